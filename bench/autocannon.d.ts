// The part of autocannon 9's programmatic API the benchmarks use: the package ships no types, and
// @types/autocannon describes version 7.
declare module 'autocannon' {
  interface Histogram {
    average: number;
    p50: number;
    p99: number;
  }

  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    timeout?: number;
    /** Sent in turn by every connection. */
    requests?: { method?: 'GET' | 'POST'; path: string }[];
  }

  interface Result {
    duration: number;
    requests: Histogram & { total: number };
    latency: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
  }

  function autocannon(options: Options): PromiseLike<Result>;
  export = autocannon;
}
