/**
 * The one check of an email address the gateway makes (there were four copies of the pattern):
 * something@domain.tld without spaces, quotes or angle brackets, which would break a mail header
 * or a page. Deliverability is proven by the mailed link, never by a pattern.
 */
const ADDRESS = /^[^\s@<>"]+@([^\s@<>"]+\.[^\s@<>"]+)$/;

const MAX_LENGTH = 254; // RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the brackets

/** The address trimmed, with its domain lower-cased, or null when it is not an address. */
export function parseEmailAddress(raw: string): { address: string; domain: string } | null {
  const address = raw.trim();
  const match = address.length <= MAX_LENGTH ? ADDRESS.exec(address) : null;
  return match ? { address, domain: match[1]!.toLowerCase() } : null;
}

/** The part after the last "@", lower-cased. */
export function emailDomain(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
