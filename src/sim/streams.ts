/**
 * Tags that separate the random streams of one shop. A user's label has a stream of its own so
 * that counting labels (ground-truth summaries) is one draw per user, without replaying behaviour.
 */
export const STREAM_CATALOG = 1;
export const STREAM_LABEL = 2;
export const STREAM_TRAITS = 3;
export const STREAM_BEHAVIOUR = 4;
export const STREAM_BRUSHING = 5;
