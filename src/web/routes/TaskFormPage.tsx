// Create, edit and copy a task: one form. Edit sends only what changed; copy prefills from
// the original with a new alias. The server validates; its messages land on their fields.
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { CreateTaskMutation, TaskChoicesQuery, TaskQuery, UpdateTaskMutation } from '../graphql/tasks.js';
import { ClustersQuery } from '../graphql/clusters.js';
import { ErrorState, Loading, NotFound } from '../components/States.js';
import { Field } from '../components/Field.js';
import { envToText, errorsByField, splitList, textToEnv } from '../lib/env.js';
import type { ResultOf } from '../graphql/graphql.js';

type Mode = 'create' | 'update' | 'copy';
type Task = NonNullable<ResultOf<typeof TaskQuery>['taskDefinition']>;

interface FormState {
  alias: string;
  groupName: string;
  image: string;
  command: string;
  cpu: string;
  memory: string;
  gpu: string;
  ephemeralStorage: string;
  ports: string;
  tags: string;
  env: string;
  targetCluster: string;
  requiresDocker: boolean;
  adaptiveResourceAllocation: boolean;
}

const EMPTY: FormState = {
  alias: '',
  groupName: '',
  image: '',
  command: '',
  cpu: '',
  memory: '',
  gpu: '',
  ephemeralStorage: '',
  ports: '',
  tags: '',
  env: '',
  targetCluster: '',
  requiresDocker: false,
  adaptiveResourceAllocation: false,
};

function fromTask(t: Task, mode: Mode): FormState {
  const n = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
  return {
    alias: mode === 'copy' ? `${t.alias}-copy` : t.alias,
    groupName: t.groupName,
    image: t.image,
    command: t.command ?? '',
    cpu: n(t.cpu),
    memory: n(t.memory),
    gpu: n(t.gpu),
    ephemeralStorage: n(t.ephemeralStorage),
    ports: t.ports.join(', '),
    tags: t.tags.join(', '),
    env: envToText(t.env),
    targetCluster: t.targetCluster ?? '',
    requiresDocker: t.requiresDocker,
    adaptiveResourceAllocation: Boolean(t.adaptiveResourceAllocation),
  };
}

/** Numbers are sent as typed, so "abc" or "1.5" reach the server and come back as its message. */
function num(v: string): number | null {
  if (v.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : Number.NaN;
}

function toInput(s: FormState) {
  const ports = splitList(s.ports).map(Number);
  return {
    alias: s.alias.trim(),
    groupName: s.groupName.trim() || null,
    image: s.image.trim(),
    command: s.command.trim() === '' ? null : s.command,
    cpu: num(s.cpu),
    memory: num(s.memory),
    gpu: num(s.gpu),
    ephemeralStorage: num(s.ephemeralStorage),
    ports,
    tags: splitList(s.tags),
    env: textToEnv(s.env),
    targetCluster: s.targetCluster || null,
    requiresDocker: s.requiresDocker,
    adaptiveResourceAllocation: s.adaptiveResourceAllocation,
  };
}

export function TaskFormPage({ mode }: { mode: Mode }) {
  const { definitionId = '' } = useParams();
  const navigate = useNavigate();
  const [task] = useQuery({ query: TaskQuery, variables: { id: definitionId }, pause: mode === 'create' });
  const [choices] = useQuery({ query: TaskChoicesQuery });
  const [clusters] = useQuery({ query: ClustersQuery });
  const [created, create] = useMutation(CreateTaskMutation);
  const [updated, update] = useMutation(UpdateTaskMutation);
  const [form, setForm] = useState<FormState>(EMPTY);
  const [loadedFrom, setLoadedFrom] = useState<string>('');
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [formError, setFormError] = useState('');
  const original = task.data?.taskDefinition;

  useEffect(() => {
    if (mode !== 'create' && original && loadedFrom !== original.definitionId) {
      setForm(fromTask(original, mode));
      setLoadedFrom(original.definitionId);
    }
  }, [mode, original, loadedFrom]);

  const groups = useMemo(() => [...new Set(choices.data?.taskDefinitions.edges.map((e) => e.node.groupName) ?? [])].sort(), [choices.data]);
  const tags = useMemo(() => [...new Set(choices.data?.taskDefinitions.edges.flatMap((e) => e.node.tags) ?? [])].sort(), [choices.data]);

  if (mode !== 'create') {
    if (task.error && !task.data) return <ErrorState error={task.error} />;
    if (!task.data) return <Loading what="task" />;
    if (!original) return <NotFound what="task" id={definitionId} />;
  }

  const set =
    <K extends keyof FormState>(key: K) =>
    (value: FormState[K]) =>
      setForm((f) => ({ ...f, [key]: value }));
  const text = (key: keyof FormState) => ({ value: form[key] as string, onChange: (e: { target: { value: string } }) => set(key)(e.target.value) });

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({});
    setFormError('');
    const input = toInput(form);
    const res =
      mode === 'update' && original
        ? await update({ id: original.definitionId, input }).then((r) => ({ error: r.error, out: r.data?.updateTaskDefinition }))
        : await create({ input: { ...input, alias: input.alias, image: input.image } }).then((r) => ({ error: r.error, out: r.data?.createTaskDefinition }));
    const out = res.out;
    if (!out) {
      setFormError(res.error?.message.replace(/^\[GraphQL\] /, '') ?? 'The server did not answer.');
      return;
    }
    if (out.__typename === 'CreateTaskDefinitionSuccess' || out.__typename === 'UpdateTaskDefinitionSuccess') {
      void navigate(`/tasks/${encodeURIComponent(out.taskDefinition.definitionId)}`);
      return;
    }
    if (out.__typename === 'ValidationError' && 'fields' in out) {
      const byField = errorsByField(out.fields);
      setErrors(byField);
      const unplaced = Object.keys(byField).filter((k) => !(k in EMPTY));
      setFormError(unplaced.length ? unplaced.map((k) => byField[k]?.join(' ')).join(' ') : 'Please fix the fields marked below.');
      // Bring the first invalid field into view and focus, for keyboard users too.
      requestAnimationFrame(() => (document.querySelector('[aria-invalid="true"]') as HTMLElement | null)?.focus());
      return;
    }
    setFormError('message' in out ? out.message : 'Saving failed.');
  };

  const title = mode === 'create' ? 'New task' : mode === 'copy' ? `Copy of ${original?.alias}` : `Edit ${original?.alias}`;
  const busy = created.fetching || updated.fetching;
  return (
    <section>
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> /{' '}
        {original && (
          <>
            <Link to={`/tasks/${encodeURIComponent(original.definitionId)}`}>{original.alias}</Link> /
          </>
        )}
      </p>
      <h1>{title}</h1>
      <form className="form" onSubmit={(e) => void onSubmit(e)} noValidate>
        {formError && (
          <div className="banner banner-error" role="alert">
            {formError}
          </div>
        )}
        <Field label="Alias" hint="A unique name, e.g. hello-world." errors={errors.alias}>
          <input required {...text('alias')} autoFocus={mode !== 'update'} />
        </Field>
        <Field label="Group" hint='Letters, digits, "-" and "_". Default: default.' errors={errors.groupName}>
          <input list="group-choices" {...text('groupName')} />
        </Field>
        <datalist id="group-choices">
          {groups.map((g) => (
            <option key={g} value={g} />
          ))}
        </datalist>
        <Field label="Image" hint="A container image, e.g. alpine:3.20." errors={errors.image}>
          <input required className="mono" {...text('image')} />
        </Field>
        <Field label="Command" hint="Run with bash -c; empty runs the image entrypoint." errors={errors.command}>
          <textarea className="mono" rows={4} {...text('command')} />
        </Field>
        <div className="row">
          <Field label="CPU units" hint="1024 = 1 vCPU" errors={errors.cpu}>
            <input inputMode="numeric" {...text('cpu')} />
          </Field>
          <Field label="Memory (MB)" errors={errors.memory}>
            <input inputMode="numeric" {...text('memory')} />
          </Field>
          <Field label="GPU" errors={errors.gpu}>
            <input inputMode="numeric" {...text('gpu')} />
          </Field>
          <Field label="Ephemeral storage (MB)" errors={errors.ephemeralStorage}>
            <input inputMode="numeric" {...text('ephemeralStorage')} />
          </Field>
        </div>
        <Field label="Env" hint="One NAME=value a line." errors={errors.env}>
          <textarea className="mono" rows={4} {...text('env')} />
        </Field>
        <Field label="Tags" hint={`Comma separated.${tags.length ? ` In use: ${tags.slice(0, 12).join(', ')}` : ''}`} errors={errors.tags}>
          <input list="tag-choices" {...text('tags')} />
        </Field>
        <datalist id="tag-choices">
          {tags.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
        <Field label="Ports" hint="Comma separated." errors={errors.ports}>
          <input {...text('ports')} />
        </Field>
        <Field label="Target cluster" errors={errors.targetCluster}>
          <select {...text('targetCluster')}>
            <option value="">Default</option>
            {clusters.data?.clusters.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name} ({c.engine.toLowerCase()})
              </option>
            ))}
          </select>
        </Field>
        <label className="check">
          <input type="checkbox" checked={form.requiresDocker} onChange={(e) => set('requiresDocker')(e.target.checked)} /> Requires Docker
        </label>
        <label className="check">
          <input type="checkbox" checked={form.adaptiveResourceAllocation} onChange={(e) => set('adaptiveResourceAllocation')(e.target.checked)} /> Adaptive
          resource allocation
        </label>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            {mode === 'update' ? 'Save changes' : 'Create task'}
          </button>
          <Link to={original ? `/tasks/${encodeURIComponent(original.definitionId)}` : '/tasks'}>Cancel</Link>
        </div>
      </form>
    </section>
  );
}
