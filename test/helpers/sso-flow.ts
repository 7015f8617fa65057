import assert from 'node:assert/strict';

/** What came back from the gateway's SSO callback. */
export interface SsoFlow {
  done: Response;
  /** The page, with &quot; decoded so messages can be matched as shown. */
  body: string;
  /** The session cookie pair, when a session started. */
  session: string | null;
  setCookies: string[];
  callbackUrl: string;
  flowCookie: string;
}

/** The first "name=value" of a Set-Cookie list for `name` that is not a removal. */
export function cookiePair(setCookies: string[], name: string): string | null {
  const line = setCookies.find((c) => c.startsWith(`${name}=`) && !c.startsWith(`${name}=;`));
  return line ? line.split(';')[0]! : null;
}

/** GET /_dashgate/sso/<id>/start: the flow cookie and where the gateway sends the browser. */
export async function startSso(gatewayUrl: string, providerId: string, next = '/'): Promise<{ flowCookie: string; authorizationUrl: string; setCookies: string[] }> {
  const res = await fetch(`${gatewayUrl}/_dashgate/sso/${providerId}/start?next=${encodeURIComponent(next)}`, { redirect: 'manual' });
  assert.equal(res.status, 303, await res.text());
  const setCookies = res.headers.getSetCookie();
  return { flowCookie: cookiePair(setCookies, 'dashgate_sso')!, authorizationUrl: res.headers.get('location')!, setCookies };
}

/** Brings the provider's answer back to the gateway, as the browser would, with `cookie` (the flow cookie, or none). */
export async function finishSso(callbackUrl: string, cookie: string | null, extraHeaders: Record<string, string> = {}): Promise<SsoFlow> {
  const done = await fetch(callbackUrl, { redirect: 'manual', headers: { ...(cookie ? { cookie } : {}), ...extraHeaders } });
  const setCookies = done.headers.getSetCookie();
  return { done, body: (await done.text()).replaceAll('&quot;', '"'), session: cookiePair(setCookies, 'dashgate_session'), setCookies, callbackUrl, flowCookie: cookie ?? '' };
}
