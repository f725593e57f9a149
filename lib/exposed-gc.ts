// V8's gc() without starting Node with --expose-gc: the flag is set at run time and gc() is taken from
// a new context, so the main context's globals stay untouched. Null where V8 refuses.
import v8 from "node:v8";
import vm from "node:vm";

export type Gc = (options?: { type?: "major" | "minor" }) => void;

let gc: Gc | null | undefined;

export function exposedGc(): Gc | null {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      gc = vm.runInNewContext("gc") as Gc;
    } catch {
      gc = null;
    }
  }
  return gc;
}
