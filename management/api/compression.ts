// The request compressions the management API accepts: connect-node's gzip and brotli, except that a
// body which does not decompress is the client's fault. connect-node answers some of those (a
// truncated gzip stream: Z_BUF_ERROR; most brotli errors) with `internal`, an HTTP 500; here every
// decompression failure but "too large" is `invalid_argument`.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";

export function clientFaultDecompression(c: Compression): Compression {
  return {
    name: c.name,
    compress: (bytes) => c.compress(bytes),
    decompress: async (bytes, readMaxBytes) => {
      try {
        return await c.decompress(bytes, readMaxBytes);
      } catch (e) {
        if (e instanceof ConnectError && e.code === Code.Internal) throw new ConnectError(e.rawMessage, Code.InvalidArgument, undefined, undefined, e);
        throw e;
      }
    },
  };
}

export const API_COMPRESSIONS: Compression[] = [clientFaultDecompression(compressionGzip), clientFaultDecompression(compressionBrotli)];
