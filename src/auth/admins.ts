import type { Store } from '../store/store.js';

/**
 * Whether this user is the only active administrator. Such a user cannot be disabled, demoted or
 * deleted, from the shell or the console: nobody could administer the gateway afterwards.
 */
export async function isLastActiveAdmin(store: Store, userId: string): Promise<boolean> {
  const admins = (await store.users.list()).filter((u) => u.isAdmin && u.status === 'active');
  return admins.length === 1 && admins[0]!.id === userId;
}
