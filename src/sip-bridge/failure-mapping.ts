/**
 * What the caller hears when the far side fails: the far side's status where it means something to a caller
 * (busy, declined, not found, unavailable), a gateway answer where it would mislead (a trunk's 401/407 is our
 * misconfiguration, not the caller's; a 3xx we don't follow). The reason phrase is kept: the page shows it.
 */
export interface FailureAnswer {
  status: number;
  reason: string;
}

export function mapFailure(status: number, reason: string): FailureAnswer {
  if (status === 401 || status === 407) return { status: 503, reason: 'Trunk authentication failed' };
  if (status >= 300 && status < 400) return { status: 480, reason: 'Redirection not supported' };
  // 422/423/491 are about our request, not about the callee: the caller can't fix them.
  if (status === 422 || status === 423 || status === 491) return { status: 500, reason: 'Far end refused the request' };
  if (status >= 400 && status < 700) return { status, reason };
  return { status: 500, reason: 'Server Internal Error' };
}

/**
 * RFC 3261 §16.7 step 6, simplified for parallel forks to one user's devices: a 6xx (the user declined
 * everywhere) wins; then 486 when any device was busy; else the first 4xx, then the first 5xx.
 */
export function pickBestFailure(answers: readonly FailureAnswer[]): FailureAnswer | undefined {
  return (
    answers.find((a) => a.status >= 600) ??
    answers.find((a) => a.status === 486) ??
    answers.find((a) => a.status >= 400 && a.status < 500) ??
    answers[0]
  );
}
