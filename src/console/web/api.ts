/** The one way the console reaches Funnelcast: GraphQL over POST /graphql with the signed-in key. */

const KEY_STORAGE = 'funnelcast.apiKey';

export type Role = 'ADMIN' | 'ANALYST' | 'SERVER' | 'CLIENT';

export interface Viewer {
  keyId: string;
  name: string;
  role: Role;
}

/** A GraphQL or HTTP error, with the server's code (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, …). */
export class ApiError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

/** The key lives in sessionStorage: gone when the tab closes, never written to disk by the console. */
export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** Sends one operation with the stored key as a bearer token; throws ApiError on any error in the answer. */
export async function gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const key = storedKey();
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  let body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without JSON.`, 'HTTP_ERROR');
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(body.errors.map((error) => error.message).join('\n'), first.extensions?.code);
  }
  if (!body.data) throw new ApiError(`The server answered ${response.status} without data.`, 'HTTP_ERROR');
  return body.data;
}

/** Who the stored key belongs to; null when it is missing or not valid. */
export async function whoAmI(): Promise<Viewer | null> {
  if (!storedKey()) return null;
  const data = await gql<{ viewer: Viewer | null }>('query ConsoleViewer { viewer { keyId name role } }');
  return data.viewer;
}
