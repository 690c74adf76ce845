import pino from 'pino';
import { config } from './config';

let root: pino.Logger | undefined;

/** Structured JSON logs on stdout; silent under jest unless LOG_LEVEL says otherwise. */
export function logger(): pino.Logger {
  root ??= pino({ level: config().logLevel, base: { service: 'funnelcast' } });
  return root;
}
