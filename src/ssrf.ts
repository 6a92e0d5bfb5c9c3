import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * SSRF guard for endpoint URLs. Only globally routable unicast addresses are allowed: loopback,
 * private (10/8, 172.16/12, 192.168/16), carrier-grade NAT, link-local (incl. 169.254.169.254, the
 * cloud metadata service), unique-local (fc00::/7), multicast, unspecified, reserved and the
 * IPv6 ranges that embed an IPv4 address (mapped, compatible, 6to4, Teredo, NAT64) are refused.
 * Decimal/octal/hex IPv4 spellings are normalised by the WHATWG URL parser before they get here.
 *
 * At send time the check runs inside the socket's DNS lookup (`guardedLookup`), so the address
 * that was checked is the address connected to: DNS rebinding cannot slip a private address in.
 */
export class SsrfError extends Error {
  readonly address: string | undefined;
  constructor(message: string, address?: string) {
    super(message);
    this.name = 'SsrfError';
    this.address = address;
  }
}

/** Returns why an IP address may not be a webhook target, or undefined when it may. */
export function forbiddenAddressReason(ip: string): string | undefined {
  if (!ipaddr.isValid(ip)) return 'not an IP address';
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  }
  const range = addr.range();
  // ::/96 (IPv4-compatible, `[::127.0.0.1]`) is deprecated (RFC 4291) and ipaddr.js calls it
  // unicast; a host with a sit tunnel routes it to the embedded IPv4 address. Never a real target.
  if (range === 'unicast' && addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0)) {
    return `${addr.toString()} is an IPv4-compatible address`;
  }
  if (range === 'unicast') return undefined;
  return `${addr.toString()} is a ${range} address`;
}

export type LookupAddress = { address: string; family: number };
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** The bare host of a URL: `[::1]` → `::1`. */
export function urlHost(url: URL): string {
  return url.hostname.startsWith('[') && url.hostname.endsWith(']') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Resolves a URL's host and checks every address it resolves to. Throws SsrfError when any is
 * forbidden (an attacker controlling DNS could otherwise return one good and one bad address).
 */
export async function checkUrlTarget(url: URL, opts: { allowPrivate: boolean; resolve?: Resolver }): Promise<LookupAddress[]> {
  const host = urlHost(url);
  if (net.isIP(host)) {
    const reason = forbiddenAddressReason(host);
    if (reason && !opts.allowPrivate) throw new SsrfError(`refused: ${reason}`, host);
    return [{ address: host, family: net.isIP(host) }];
  }
  let addresses: LookupAddress[];
  try {
    addresses = await (opts.resolve ?? systemResolver)(host);
  } catch (err) {
    const e = new Error(`could not resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    (e as NodeJS.ErrnoException).code = (err as NodeJS.ErrnoException).code ?? 'ENOTFOUND';
    throw e;
  }
  if (addresses.length === 0) {
    const e = new Error(`could not resolve ${host}`);
    (e as NodeJS.ErrnoException).code = 'ENOTFOUND';
    throw e;
  }
  if (!opts.allowPrivate) {
    for (const a of addresses) {
      const reason = forbiddenAddressReason(a.address);
      if (reason) throw new SsrfError(`refused: ${host} resolves to ${reason}`, a.address);
    }
  }
  return addresses;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `net.connect`-compatible `lookup` that resolves with `resolve`, refuses forbidden addresses
 * and hands the checked address to the socket.
 */
export function guardedLookup(opts: { allowPrivate: boolean; resolve?: Resolver }) {
  return (hostname: string, options: dns.LookupOptions | number, callback: LookupCallback): void => {
    const all = typeof options === 'object' && options !== null && options.all === true;
    checkUrlTarget(new URL(`http://${net.isIPv6(hostname) ? `[${hostname}]` : hostname}/`), opts).then(
      (addresses) => {
        if (all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
