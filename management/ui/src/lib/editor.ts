// An editor page's state and writes, for items the API lists and edits by id (policy rules, captcha
// providers, templates): the item loaded by id, or a fresh form on a "new" page; the form; save
// (create or update, a problem under the field it names) and delete (back to the list). The page
// adds its fields and what it says about the item.
import { useEffect, useState } from "preact/hooks";
import { attempt, submit, useLoad, type Loaded } from "./load.ts";
import { navigate } from "./router.ts";
import type { ApiProblem } from "./errors.ts";
import { isAdmin } from "./session.ts";

export interface EditorCalls<Item, Spec, Form> {
  /** Every item: the editor finds its own by id. */
  load: () => Promise<Item[]>;
  /** The form for an item, or for a new one. */
  toForm: (item: Item | undefined) => Form;
  /** What to send; may throw FormError for what the form can tell is wrong on its own. */
  toSpec: (form: Form) => Spec;
  /** Each returns the item as the server stored it. */
  create: (spec: Spec) => Promise<Item | undefined>;
  update: (id: string, spec: Spec) => Promise<Item | undefined>;
  remove: (id: string) => Promise<unknown>;
  /** Where Cancel, a delete and (unless `createdHref`) a create go back to. */
  listHref: string;
  createdHref?: (created: Item | undefined) => string;
  /** Shown once a change is saved. */
  savedMessage: string;
  /** After saving a change the form shows what the server stored; false keeps the form as typed. */
  formFromSaved?: boolean;
}

export interface Editor<Item, Form> {
  isNew: boolean;
  list: Loaded<Item[]>;
  /** The item the page names; undefined on a "new" page, and while loading or when there is none. */
  item: Item | undefined;
  form: Form | undefined;
  /** Changes a copy of the form (and hides "saved"). */
  update: (fn: (draft: Form) => void) => void;
  problem: ApiProblem | undefined;
  save: (e: Event) => Promise<void>;
  /** For editorGate. */
  gate: { loading: boolean; problem: ApiProblem | undefined; missing: boolean; viewerOnNew: boolean; formReady: boolean };
  /** For EditorFooter. */
  footer: { problem: ApiProblem | undefined; deleteProblem: ApiProblem | undefined; saved: string | undefined; busy: boolean; isNew: boolean; onDelete: () => Promise<void> };
}

/**
 * A form's change function: `fn` changes a copy of the form (never the one on screen), and the last
 * "saved" message goes, as it no longer describes what is shown.
 */
export function formUpdater<Form>(setForm: (change: (prev: Form | undefined) => Form | undefined) => void, setSaved: (saved: string | undefined) => void): (fn: (draft: Form) => void) => void {
  return (fn) => {
    setSaved(undefined);
    setForm((prev) => {
      if (!prev) return prev;
      const next = structuredClone(prev);
      fn(next);
      return next;
    });
  };
}

export function useEditor<Item extends { id: string }, Spec, Form>(id: string | undefined, calls: EditorCalls<Item, Spec, Form>): Editor<Item, Form> {
  const isNew = id === undefined;
  const list = useLoad(calls.load, [id]);
  const [form, setForm] = useState<Form | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [deleteProblem, setDeleteProblem] = useState<ApiProblem | undefined>(undefined);
  const item = id === undefined ? undefined : list.data?.find((x) => x.id === id);

  useEffect(() => {
    if (!list.data || form) return;
    if (!isNew && !item) return;
    setForm(calls.toForm(item));
  }, [list.data]);

  const update = formUpdater(setForm, setSaved);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!form) return;
    setSaved(undefined);
    let stored: Item | undefined;
    const write = async (spec: Spec) => {
      stored = id === undefined ? await calls.create(spec) : await calls.update(id, spec);
    };
    if (!(await submit(() => calls.toSpec(form), write, { problem: setProblem, busy: setBusy }))) return;
    if (id === undefined) {
      navigate(calls.createdHref ? calls.createdHref(stored) : calls.listHref);
      return;
    }
    if (calls.formFromSaved !== false) setForm(calls.toForm(stored));
    setSaved(calls.savedMessage);
  };

  const remove = async () => {
    const p = await attempt(() => calls.remove(id ?? ""));
    if (p) return setDeleteProblem(p);
    navigate(calls.listHref);
  };

  return {
    isNew,
    list,
    item,
    form,
    update,
    problem,
    save,
    gate: { loading: list.loading && !list.data, problem: list.data ? undefined : list.problem, missing: !isNew && !item, viewerOnNew: isNew && !isAdmin.value, formReady: form !== undefined },
    footer: { problem, deleteProblem, saved, busy, isNew, onDelete: remove },
  };
}
