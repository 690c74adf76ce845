import type { IncomingMessage } from 'node:http';
import { hashSecret, type Principal } from '../auth/api-key.service';
import type { Context } from '../context';
import type { Services } from '../services';
import type { RateLimitRefusal, RequestRateLimits } from './rate-limit';

/** Who is asking: the key's holder, or null with the reason the Authorization header was refused (null when there was none). */
export type Authentication = Pick<Context, 'principal' | 'authProblem'>;

/** Secrets remembered as valid, at most this many (then forgotten all at once). */
const KNOWN_VALID_LIMIT = 10_000;

/**
 * Authenticates requests from their Authorization header, before their body is read, under the
 * failed-authentication limit (FUNNELCAST_AUTH_FAILURES_PER_MINUTE, per client address):
 *
 * - a key of unknown validity takes one of the address's attempts, atomically, BEFORE it is looked
 *   up, and gives it back when it is valid: however many guesses arrive at once, at most the limit
 *   reach the database in a minute; the others get 429 with Retry-After;
 * - requests with the same secret that arrive while it is being looked up wait for that lookup
 *   instead of taking attempts of their own (a burst from one valid key costs one attempt, given
 *   back); when it fails, each of them counts as a failure afterwards;
 * - a key that was valid at its last lookup on this process passes without an attempt, so clients
 *   with valid keys are not locked out by someone guessing from the same address (a NAT, a proxy).
 *   If it was revoked since, the lookup that finds out counts as a failure and it is forgotten;
 * - a malformed header counts as a failure like a wrong key (it takes an attempt, kept).
 *
 * A database outage during the lookup gives the attempt back and is thrown (the server answers 503).
 */
export class RequestAuthenticator {
  private readonly inFlight = new Map<string, Promise<Principal | null>>();
  private readonly knownValid = new Set<string>();

  constructor(
    private readonly services: Services,
    private readonly rateLimits: RequestRateLimits,
  ) {}

  /**
   * The request's principal (or why it has none), or a 429 refusal when its address has no
   * authentication attempts left. `basic`: also take the key as the password of HTTP Basic
   * authentication (any user name), which browsers send by themselves (the queue dashboard).
   */
  async authenticate(request: IncomingMessage, options: { basic?: boolean } = {}): Promise<Authentication | { refusal: RateLimitRefusal }> {
    const header = request.headers.authorization;
    if (!header) return { principal: null, authProblem: null };
    const secret = secretOf(header, options.basic === true);
    if (secret === null) {
      const refusal = await this.rateLimits.takeAuthAttempt(request);
      if (refusal) return { refusal };
      const form = options.basic ? '"Bearer <key>" or Basic with the key as password' : '"Bearer <key>"';
      return { principal: null, authProblem: `The Authorization header must look like ${form}.` };
    }
    const hash = hashSecret(secret);
    let principal: Principal | null;
    const pending = this.inFlight.get(hash);
    if (pending || this.knownValid.has(hash)) {
      principal = await (pending ?? this.lookUp(secret, hash));
      if (!principal) await this.rateLimits.recordAuthFailure(request);
    } else {
      const refusal = await this.rateLimits.takeAuthAttempt(request);
      if (refusal) return { refusal };
      // Another request may have started this key's lookup while the attempt was being counted.
      const joined = this.inFlight.get(hash);
      try {
        principal = await (joined ?? this.lookUp(secret, hash));
      } catch (error) {
        await this.rateLimits.returnAuthAttempt(request);
        throw error;
      }
      if (principal) await this.rateLimits.returnAuthAttempt(request);
    }
    return principal ? { principal, authProblem: null } : { principal: null, authProblem: 'The API key is not valid or has been revoked.' };
  }

  /** One lookup per secret at a time (ApiKeyService caches the answer for up to 1 s). */
  private lookUp(secret: string, hash: string): Promise<Principal | null> {
    const lookup = this.services.apiKeys.authenticate(secret).then(
      (principal) => {
        if (principal) {
          if (this.knownValid.size >= KNOWN_VALID_LIMIT) this.knownValid.clear();
          this.knownValid.add(hash);
        } else {
          this.knownValid.delete(hash);
        }
        return principal;
      },
    );
    this.inFlight.set(hash, lookup);
    const forget = () => {
      if (this.inFlight.get(hash) === lookup) this.inFlight.delete(hash);
    };
    lookup.then(forget, forget);
    return lookup;
  }
}

/** The key in an Authorization header: `Bearer <key>`, or with `basic` the password of `Basic base64(user:key)`; null when malformed. */
function secretOf(header: string, basic: boolean): string | null {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const credentials = basic ? /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(header) : null;
  if (!credentials) return null;
  const decoded = Buffer.from(credentials[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  return /^\S+$/.test(password) ? password : null;
}
