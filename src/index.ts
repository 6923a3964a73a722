// The package's public API: what `require('<package>')` gives after `npm run build`.
export * from './redis-cache';
