/** A sign-in that must not go on; `message` is safe to show (it holds no token or secret). */
export class SsoError extends Error {
  constructor(
    readonly reason: 'provider_refused' | 'exchange_failed' | 'verification_failed' | 'provider_unavailable' | 'incomplete_profile',
    message: string,
  ) {
    super(message);
  }
}
