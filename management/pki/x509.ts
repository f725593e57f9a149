// Single entry point for @peculiar/x509: it needs a Reflect metadata polyfill
// (tsyringe) loaded before it, and a WebCrypto provider. ESM evaluates imports
// in order, so "reflect-metadata" runs first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto);

export { x509 };
export const subtle = webcrypto.subtle;
