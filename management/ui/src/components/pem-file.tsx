// A file input that loads a PEM file's text into a form field (PEM files are small text; over 1 MiB
// is refused as not PEM). Used by the listener's default certificate and the certificate upload.
import { useState } from "preact/hooks";
import { Field } from "./ui.tsx";

/** A file input that hands the file's text to `onText` (PEM files are small text). */
export function PemFile({ label, onText, onProblem }: { label: string; onText: (t: string) => void; onProblem: (m: string) => void }) {
  const [loaded, setLoaded] = useState<string | undefined>();
  return (
    <Field
      label={label}
      hint={
        loaded && (
          <span role="status">
            Loaded {loaded} into the field below.
          </span>
        )
      }
    >
      {(id) => (
        <input
          id={id}
          type="file"
          accept=".pem,.crt,.cer,.key,application/x-pem-file,application/x-x509-ca-cert,text/plain"
          onChange={async (e) => {
            const input = e.currentTarget as HTMLInputElement;
            const file = input.files?.[0];
            if (!file) return;
            if (file.size > 1024 * 1024) return onProblem(`${file.name} is larger than 1 MiB: not a PEM file`);
            onText(await file.text());
            setLoaded(file.name);
            input.value = "";
          }}
        />
      )}
    </Field>
  );
}
