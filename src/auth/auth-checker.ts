import type { AuthChecker } from 'type-graphql';
import type { Context } from '../context';
import { forbidden, unauthenticated } from '../graphql/errors';
import type { Role } from './api-key.entity';
import { PRIVATE_FIELDS, privacyRestricted } from '../privacy/private-fields';

/**
 * A key with a privacy budget may reach only PRIVATE_FIELDS (PRIVACY_RESTRICTED elsewhere).
 * `@Authorized('analyst')` lets analysts in; admins may do everything, and a server key everything
 * a client key may (`allowedRoles`). Missing or wrong keys are UNAUTHENTICATED, a valid key with
 * the wrong role is FORBIDDEN.
 */
export const authChecker: AuthChecker<Context, Role> = ({ context, info }, roles) => {
  const principal = context.principal;
  if (!principal) {
    throw unauthenticated(context.authProblem ?? 'Send an API key as "Authorization: Bearer <key>".');
  }
  const allowed = allowedRoles(roles);
  if (roles.length === 0 || allowed.includes(principal.role)) {
    const field = `${info.parentType.name}.${info.fieldName}`;
    if (principal.privacyBudget && !PRIVATE_FIELDS.has(field)) {
      throw privacyRestricted(
        `Your key "${principal.name}" has a privacy budget: it may ask only for ${[...PRIVATE_FIELDS].map((name) => name.replace('Query.', '')).join(', ')}, whose answers are differentially private; ${info.fieldName} is not.`,
      );
    }
    return true;
  }
  throw forbidden(`This needs ${rolesInWords(allowed)}; your key "${principal.name}" has the ${principal.role} role.`);
};

/** The roles a field's `@Authorized(...roles)` lets in: those named, a server key where a client key is, and admin. */
export function allowedRoles(roles: readonly Role[]): Role[] {
  const allowed = new Set<Role>(roles);
  if (allowed.has('client')) allowed.add('server');
  allowed.add('admin');
  return (['client', 'server', 'analyst', 'admin'] as const).filter((role) => allowed.has(role));
}

/** "an admin key", "an analyst or admin key", "a client, analyst or admin key" (each role once, in order). */
export function rolesInWords(roles: readonly string[]): string {
  const distinct = [...new Set(roles)];
  const list = distinct.length === 1 ? distinct[0] : `${distinct.slice(0, -1).join(', ')} or ${distinct[distinct.length - 1]}`;
  return `${/^[aeiou]/.test(list) ? 'an' : 'a'} ${list} key`;
}
