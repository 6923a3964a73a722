/** The service's `RendererConfig`, read from the environment at start. */
export const RENDERER_CONFIG = Symbol('RENDERER_CONFIG');
