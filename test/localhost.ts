// Exposed ports are served on host names under `localhost` (`<instance>-<name>.localhost`):
// browsers and curl resolve any *.localhost to loopback, but Node's resolver asks the system,
// which on many machines does not. Tests resolve them as a browser would: `useLocalhostNames()`
// for fetch, `localhostLookup` as the `lookup` option of ws / http.request.
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { Agent, setGlobalDispatcher } from 'undici';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export function localhostLookup(hostname: string, options: LookupOptions | number | LookupCallback, cb?: LookupCallback): void {
  const callback = (typeof options === 'function' ? options : cb)!;
  const opts: LookupOptions = typeof options === 'object' ? options : {};
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    if (opts.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
    return;
  }
  dnsLookup(hostname, { ...opts, all: true }, (err, addresses) => (err ? callback(err, []) : opts.all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family)));
}

/** fetch resolves *.localhost to 127.0.0.1 (as browsers do) for the rest of this test file. */
export function useLocalhostNames(): void {
  setGlobalDispatcher(new Agent({ connect: { lookup: localhostLookup as never } }));
}
