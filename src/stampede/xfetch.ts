/**
 * The XFetch rule (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede
 * Prevention", VLDB 2015): recompute early when `now - delta * beta * ln(random) >= expiry`, that is
 * when `-delta * beta * ln(random) >= remaining`. The nearer the expiry and the slower the value is
 * to compute (`delta`), the likelier a caller refreshes it, so one caller usually does so just
 * before the key expires and the others never see a miss.
 */
export function shouldRefreshEarly(
  recomputeMs: number,
  remainingMs: number,
  beta: number,
  random: () => number = Math.random,
): boolean {
  if (!(recomputeMs > 0) || !(remainingMs > 0)) return false;
  return -recomputeMs * beta * Math.log(random()) >= remainingMs;
}
