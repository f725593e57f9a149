/** The client's IP as a plain string: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) shown as IPv4. */
export function peerIp(addr: string | undefined): string {
  if (!addr) return "";
  return addr.startsWith("::ffff:") ? addr.slice(7) : addr;
}
