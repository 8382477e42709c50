// The exit codes of `lightrank embed`, shared with the operator's build Job (its podFailurePolicy).
/** Done. */
export const EXIT_OK = 0;
/** Anything a retry may fix (storage unreachable, the pod killed): retried up to backoffLimitPerIndex. */
export const EXIT_RETRYABLE = 1;
/** Bad input no retry can fix (bad data, a wrong tower): the Job fails the index at once. */
export const EXIT_BAD_INPUT = 2;
