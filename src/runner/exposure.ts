import { readFileSync } from 'node:fs';

/**
 * Addresses other than loopback on which something listens on `port`, read from the kernel's
 * socket tables (Linux /proc/net/tcp{,6}); no packet is sent. An app bound to 0.0.0.0 can be
 * reached around the gateway, which would bypass every check. Elsewhere returns [] (unknown).
 */
export function nonLoopbackListeners(port: number): string[] {
  const found: string[] = [];
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4 || fields[3] !== '0A') continue; // 0A = LISTEN
      const [addressHex, portHex] = fields[1]!.split(':') as [string, string];
      if (parseInt(portHex, 16) !== port) continue;
      const address = v6 ? decodeV6(addressHex) : decodeV4(addressHex);
      if (!isLoopback(address)) found.push(address);
    }
  }
  return [...new Set(found)];
}

function decodeV4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
}

function decodeV6(hex: string): string {
  const words: string[] = [];
  for (let i = 0; i < 32; i += 8) {
    const chunk = hex.slice(i, i + 8);
    const bytes = [chunk.slice(6, 8), chunk.slice(4, 6), chunk.slice(2, 4), chunk.slice(0, 2)].join('');
    words.push(bytes.slice(0, 4), bytes.slice(4, 8));
  }
  const full = words.map((w) => parseInt(w, 16).toString(16)).join(':');
  if (/^0:0:0:0:0:ffff:/.test(full)) {
    const tail = words.slice(6).join('');
    return decodeV4(tail.match(/../g)!.reverse().join(''));
  }
  return full === '0:0:0:0:0:0:0:0' ? '::' : full;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '0:0:0:0:0:0:0:1';
}
