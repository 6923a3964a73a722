// A TCP proxy on loopback between a client under test and its Redis, whose faults the test turns
// on and off: cut every connection (also in the middle of a reply), delay the traffic, hold it
// (a blackhole) or refuse new connections. Used by the fault suite (test/reliability.e2e-spec.ts).
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

/** What the proxy does with traffic; see the methods of `TcpProxy` that set each. */
export type TcpProxyMode =
  | { readonly kind: 'forward' }
  | { readonly kind: 'delay'; readonly delayMs: number }
  | { readonly kind: 'cut-mid-reply'; readonly maxReplyBytes: number; readonly setUpShare: number }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'refuse' };

/** What the proxy has done since it started. */
export interface TcpProxyStats {
  /** Client connections accepted and forwarded. */
  accepted: number;
  /** Client connections closed at once because the mode was `refuse` or the upstream was down. */
  refused: number;
  /** Connections the proxy cut (both sides destroyed) because of a fault. */
  cuts: number;
  /** Cuts made after forwarding only part of a reply chunk: the client saw half a reply. */
  midReplyCuts: number;
  /**
   * Mid-reply cuts on a connection past its set-up (it had sent a command such as GET or SET), so
   * the reply cut was a command's: a client sends commands only once the ready check answered.
   */
  midCommandCuts: number;
  /** Chunks held back by `delay` (both directions). */
  delayedChunks: number;
}

type Direction = 'request' | 'reply';

interface Queued {
  /** When to write it; `Infinity` while a black hole holds it. */
  due: number;
  readonly chunk: Buffer;
}

/** One forwarded connection: the client's socket, the upstream socket and their delay queues. */
class Link {
  /** Command reply bytes this connection may still forward before it is cut (`cut-mid-reply`). */
  replyBudget: number | undefined;
  /** Cut while the connection is being set up (`cut-mid-reply`), not after. */
  cutInSetUp = false;
  /** The client sent a command other than its connection set-up (INFO, CLIENT, SELECT...). */
  pastHandshake = false;
  closed = false;
  /** Cut after a last partial reply: the client's side is ending, not destroyed. */
  ending = false;
  readonly queues: Record<Direction, Queued[]> = { request: [], reply: [] };
  readonly timers: Record<Direction, NodeJS.Timeout | undefined> = {
    request: undefined,
    reply: undefined,
  };

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
  ) {}

  target(direction: Direction): Socket {
    return direction === 'request' ? this.upstream : this.client;
  }
}

/** A forwarding TCP proxy on a free loopback port; every fault applies to open connections too. */
export class TcpProxy {
  readonly stats: TcpProxyStats = {
    accepted: 0,
    refused: 0,
    cuts: 0,
    midReplyCuts: 0,
    midCommandCuts: 0,
    delayedChunks: 0,
  };
  private mode: TcpProxyMode = { kind: 'forward' };
  private readonly links = new Set<Link>();
  /** Clients cut after a partial reply, until they close their side. */
  private readonly endingClients = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Starts a proxy on `127.0.0.1` (a free port) forwarding to `targetHost:targetPort`. */
  static start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        const proxy = new TcpProxy(server, port, targetHost, targetPort);
        server.on('connection', (socket) => proxy.accept(socket));
        resolve(proxy);
      });
    });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Open forwarded connections. */
  get openConnections(): number {
    return this.links.size;
  }

  get currentMode(): TcpProxyMode {
    return this.mode;
  }

  /** Forwards everything as it comes (chunks still held by an earlier fault go first, in order). */
  forward(): void {
    this.setMode({ kind: 'forward' });
  }

  /** Holds every chunk, both directions, for `delayMs` before forwarding it (order kept). */
  delay(delayMs: number): void {
    this.setMode({ kind: 'delay', delayMs });
  }

  /**
   * Cuts every connection, open and new, in the middle of a reply, so the client sees half a reply
   * and then the connection's end. A share (`setUpShare`) of new connections is cut inside a
   * reply to their set-up (the ready check); every other connection may forward a random number of
   * command reply bytes (1 to `maxReplyBytes`) and is cut inside the reply that exceeds them.
   */
  cutMidReply({ maxReplyBytes = 4_096, setUpShare = 0.25 } = {}): void {
    this.setMode({ kind: 'cut-mid-reply', maxReplyBytes, setUpShare });
    for (const link of this.links) this.armCut(link);
  }

  /**
   * Keeps connections open but lets nothing through, either way: a network partition whose TCP
   * keeps retransmitting. What was sent arrives, in order, once another mode is set.
   */
  blackhole(): void {
    this.setMode({ kind: 'blackhole' });
  }

  /** Cuts every open connection and closes new ones as soon as they are accepted. */
  refuse(): void {
    this.setMode({ kind: 'refuse' });
    this.cutAll();
  }

  /** Cuts every open connection now, whatever it is doing; returns how many. */
  cutAll(): number {
    const count = this.links.size;
    for (const link of [...this.links]) this.cut(link);
    return count;
  }

  /** Stops listening and drops every connection. */
  close(): Promise<void> {
    for (const link of [...this.links]) this.drop(link);
    for (const client of this.endingClients) client.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Sets the mode; leaving a black hole releases what it held. */
  private setMode(mode: TcpProxyMode): void {
    this.mode = mode;
    if (mode.kind === 'blackhole') return;
    const now = performance.now();
    for (const link of this.links) {
      for (const direction of ['request', 'reply'] as const) {
        for (const queued of link.queues[direction]) {
          if (queued.due === Infinity) queued.due = now;
        }
        this.arm(link, direction);
      }
    }
  }

  /** Draws where a connection will be cut, when the mode cuts. */
  private armCut(link: Link): void {
    if (this.mode.kind !== 'cut-mid-reply') return;
    link.cutInSetUp = !link.pastHandshake && Math.random() < this.mode.setUpShare;
    link.replyBudget = 1 + Math.floor(Math.random() * this.mode.maxReplyBytes);
  }

  private accept(client: Socket): void {
    if (this.mode.kind === 'refuse') {
      this.stats.refused++;
      client.resetAndDestroy();
      return;
    }
    client.pause();
    const upstream = connect({ host: this.targetHost, port: this.targetPort });
    const link = new Link(client, upstream);
    this.links.add(link);
    this.armCut(link);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      this.stats.accepted++;
      client.resume();
    });
    upstream.on('error', () => {
      // The upstream is down: the client sees its connection closed at once.
      if (!connected) this.stats.refused++;
      this.drop(link);
    });
    client.on('error', () => this.drop(link));
    upstream.on('close', () => this.drop(link));
    client.on('close', () => this.drop(link));
    client.on('data', (chunk: Buffer) => this.onChunk(link, 'request', chunk));
    upstream.on('data', (chunk: Buffer) => this.onChunk(link, 'reply', chunk));
  }

  private onChunk(link: Link, direction: Direction, chunk: Buffer): void {
    if (link.closed) return;
    if (direction === 'request' && !link.pastHandshake) link.pastHandshake = carriesCommand(chunk);
    const mode = this.mode;
    switch (mode.kind) {
      case 'forward':
        return this.send(link, direction, chunk, 0);
      case 'delay':
        this.stats.delayedChunks++;
        return this.send(link, direction, chunk, mode.delayMs);
      case 'blackhole':
        return this.send(link, direction, chunk, Infinity);
      case 'refuse':
        return this.cut(link);
      case 'cut-mid-reply':
        if (direction === 'request') return this.send(link, direction, chunk, 0);
        return this.replyUntilCut(link, chunk);
      default: {
        const unknown: never = mode;
        throw new Error(`unknown proxy mode ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * Set-up replies pass, or are split and cut (`cutInSetUp`); then command replies pass while the
   * link's budget lasts, and the chunk that exceeds it is split and cut.
   */
  private replyUntilCut(link: Link, chunk: Buffer): void {
    if (!link.pastHandshake) {
      if (!link.cutInSetUp || chunk.length < 2) return this.send(link, 'reply', chunk, 0);
      this.stats.midReplyCuts++;
      return this.cut(link, chunk.subarray(0, 1 + Math.floor(Math.random() * (chunk.length - 1))));
    }
    const budget = link.replyBudget ?? 0;
    if (chunk.length <= budget) {
      link.replyBudget = budget - chunk.length;
      return this.send(link, 'reply', chunk, 0);
    }
    // Always forward part of the chunk, never all of it: the cut lands inside a reply.
    const part = Math.min(Math.max(budget, 1), chunk.length - 1);
    this.stats.midReplyCuts++;
    this.stats.midCommandCuts++;
    this.cut(link, chunk.subarray(0, part));
  }

  /** Writes now, or after `delayMs` behind anything already queued in that direction. */
  private send(link: Link, direction: Direction, chunk: Buffer, delayMs: number): void {
    const queue = link.queues[direction];
    if (delayMs === 0 && queue.length === 0) {
      link.target(direction).write(chunk);
      return;
    }
    const last = queue.at(-1)?.due ?? 0;
    queue.push({ due: Math.max(performance.now() + delayMs, last), chunk });
    this.arm(link, direction);
  }

  private arm(link: Link, direction: Direction): void {
    if (link.timers[direction] || link.closed) return;
    const next = link.queues[direction][0];
    if (!next || next.due === Infinity) return;
    link.timers[direction] = setTimeout(
      () => {
        link.timers[direction] = undefined;
        this.flush(link, direction);
      },
      Math.max(0, next.due - performance.now()),
    );
  }

  private flush(link: Link, direction: Direction): void {
    if (link.closed) return;
    const queue = link.queues[direction];
    const now = performance.now();
    while (queue.length > 0 && queue[0].due <= now) {
      link.target(direction).write(queue.shift()!.chunk);
    }
    this.arm(link, direction);
  }

  /**
   * Cuts a connection. With `lastBytes` (part of a reply) the client gets them and then the end of
   * the connection: a reset could make the kernel discard them before the client reads them.
   * Without, the client gets a reset, as from a dropped connection.
   */
  private cut(link: Link, lastBytes?: Buffer): void {
    if (link.closed) return;
    this.stats.cuts++;
    if (lastBytes) {
      link.ending = true;
      const client = link.client;
      this.endingClients.add(client);
      client.once('close', () => this.endingClients.delete(client));
      client.end(lastBytes);
      // The client closes its side when it sees the end; if it does not, drop it anyway.
      setTimeout(() => client.destroy(), 1000).unref();
    } else {
      link.client.resetAndDestroy();
    }
    this.drop(link);
  }

  private drop(link: Link): void {
    if (!link.closed) {
      link.closed = true;
      for (const timer of Object.values(link.timers)) clearTimeout(timer);
      link.queues.request.length = 0;
      link.queues.reply.length = 0;
    }
    this.links.delete(link);
    if (!link.ending && !link.client.destroyed) link.client.destroy();
    if (!link.upstream.destroyed) link.upstream.destroy();
  }
}

/** Commands a client sends while it sets a connection up (ioredis: CLIENT SETINFO, INFO). */
const SET_UP_COMMANDS = new Set(['auth', 'hello', 'client', 'select', 'info', 'readonly']);
/** The name of each command array in a chunk of RESP requests (a light scan, good enough here). */
const COMMAND_NAME = /\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g;

/** Whether a chunk of requests holds a command other than connection set-up. */
function carriesCommand(chunk: Buffer): boolean {
  for (const [, name] of chunk.toString('latin1').matchAll(COMMAND_NAME)) {
    if (!SET_UP_COMMANDS.has(name.toLowerCase())) return true;
  }
  return false;
}
