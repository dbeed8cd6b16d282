// The run form: prefilled from the definition, or from an earlier run (?fromRun=<runId>,
// what Retry opens). One idempotence key belongs to what the form holds: a double click
// sends the same key twice and the server makes one run; any edit makes a new key.
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { TaskQuery } from '../graphql/tasks.js';
import { ExecuteTaskMutation, RunQuery } from '../graphql/runs.js';
import { ClustersQuery } from '../graphql/clusters.js';
import { ErrorState, Loading, NotFound } from '../components/States.js';
import { Field } from '../components/Field.js';
import { envToText, errorsByField, textToEnv } from '../lib/env.js';
import { newIdempotenceKey, rememberOwner, rememberedOwner } from '../lib/owner.js';

interface RunForm {
  owner: string;
  command: string;
  env: string;
  cpu: string;
  memory: string;
  gpu: string;
  cluster: string;
  engine: string;
  nodeLifecycle: string;
  activeDeadlineSeconds: string;
  description: string;
}

const RESERVED = /^(FLOTILLA_|AWS_ROLE_SESSION_NAME$)/;

function int(v: string): number | null {
  const n = Number.parseInt(v, 10);
  return v.trim() === '' || !Number.isFinite(n) ? null : n;
}

export function TaskExecutePage() {
  const { definitionId = '' } = useParams();
  const [params] = useSearchParams();
  const fromRun = params.get('fromRun') ?? '';
  const navigate = useNavigate();
  const [task] = useQuery({ query: TaskQuery, variables: { id: definitionId } });
  const [run] = useQuery({ query: RunQuery, variables: { id: fromRun }, pause: !fromRun });
  const [clusters] = useQuery({ query: ClustersQuery });
  const [execution, execute] = useMutation(ExecuteTaskMutation);
  const [form, setForm] = useState<RunForm | undefined>();
  const [key, setKey] = useState(newIdempotenceKey);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [formError, setFormError] = useState('');
  const t = task.data?.taskDefinition;
  const r = run.data?.run;

  useEffect(() => {
    if (form || !t || (fromRun && !run.data && !run.error)) return;
    const src = r ?? undefined;
    const n = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v));
    setForm({
      owner: rememberedOwner(),
      command: (src ? src.command : t.command) ?? '',
      // A retried run's env holds the reserved variables the server adds; they are not resent.
      env: envToText((src ? src.env : t.env).filter((e) => !RESERVED.test(e.name) && !(src && e.name === 'OWNER_ID'))),
      cpu: n(src ? src.cpu : t.cpu),
      memory: n(src ? src.memory : t.memory),
      gpu: n(src ? src.gpu : t.gpu),
      cluster: src ? src.clusterName : (t.targetCluster ?? ''),
      engine: src ? src.engine.toLowerCase() : '',
      nodeLifecycle: src ? src.nodeLifecycle : '',
      activeDeadlineSeconds: n(src?.activeDeadlineSeconds),
      description: src ? `Retry of ${src.runId}` : '',
    });
  }, [form, t, r, fromRun, run.data, run.error]);

  if (task.error && !task.data) return <ErrorState error={task.error} />;
  if (!task.data || (fromRun && !run.data && !run.error)) return <Loading what="run form" />;
  if (!t) return <NotFound what="task" id={definitionId} />;
  if (!form) return <Loading what="run form" />;

  const edit = (k: keyof RunForm) => ({
    value: form[k],
    onChange: (e: { target: { value: string } }) => {
      setForm({ ...form, [k]: e.target.value });
      setKey(newIdempotenceKey());
    },
  });

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setErrors({});
    setFormError('');
    if (form.owner.trim()) rememberOwner(form.owner.trim());
    const res = await execute({
      definitionId: t.definitionId,
      input: {
        owner: form.owner.trim(),
        command: form.command.trim() === '' ? null : form.command,
        env: textToEnv(form.env),
        cpu: int(form.cpu),
        memory: int(form.memory),
        gpu: int(form.gpu),
        cluster: form.cluster || null,
        engine: form.engine || null,
        nodeLifecycle: form.nodeLifecycle === 'SPOT' || form.nodeLifecycle === 'ONDEMAND' ? form.nodeLifecycle : null,
        activeDeadlineSeconds: int(form.activeDeadlineSeconds),
        description: form.description || null,
        idempotenceKey: key,
      },
    });
    const out = res.data?.executeTask;
    if (out?.__typename === 'ExecuteTaskSuccess') {
      void navigate(`/runs/${encodeURIComponent(out.run.runId)}`);
      return;
    }
    if (out?.__typename === 'ValidationError' && 'fields' in out) {
      const byField = errorsByField(out.fields);
      setErrors(byField);
      setFormError(out.message);
      return;
    }
    setFormError(out && 'message' in out ? out.message : (res.error?.message.replace(/^\[GraphQL\] /, '') ?? 'The server did not answer.'));
  };

  return (
    <section>
      <p className="crumbs">
        <Link to="/tasks">Tasks</Link> / <Link to={`/tasks/${encodeURIComponent(t.definitionId)}`}>{t.alias}</Link> /
      </p>
      <h1>Run {t.alias}</h1>
      {r && (
        <p>
          Prefilled from run <Link to={`/runs/${encodeURIComponent(r.runId)}`}>{r.runId}</Link>.
        </p>
      )}
      <form className="form" onSubmit={(e) => void onSubmit(e)} noValidate>
        {formError && (
          <div className="banner banner-error" role="alert">
            {formError}
          </div>
        )}
        <Field label="Owner" hint="Who is running it; remembered in this browser." errors={errors.owner}>
          <input required autoFocus={!form.owner} {...edit('owner')} />
        </Field>
        <Field label="Command" hint="Overrides the task's command." errors={errors.command}>
          <textarea className="mono" rows={4} {...edit('command')} />
        </Field>
        <Field label="Env" hint="One NAME=value a line; added to the task's env." errors={errors.env}>
          <textarea className="mono" rows={3} {...edit('env')} />
        </Field>
        <div className="row">
          <Field label="CPU units" errors={errors.cpu}>
            <input inputMode="numeric" {...edit('cpu')} />
          </Field>
          <Field label="Memory (MB)" errors={errors.memory}>
            <input inputMode="numeric" {...edit('memory')} />
          </Field>
          <Field label="GPU" errors={errors.gpu}>
            <input inputMode="numeric" {...edit('gpu')} />
          </Field>
        </div>
        <div className="row">
          <Field label="Cluster" errors={errors.cluster}>
            <select {...edit('cluster')}>
              <option value="">Default</option>
              {/* A retried run's cluster may be one the registry no longer lists. */}
              {form.cluster && clusters.data && !clusters.data.clusters.some((c) => c.name === form.cluster) && (
                <option value={form.cluster}>{form.cluster}</option>
              )}
              {clusters.data?.clusters.map((c) => (
                <option key={c.name} value={c.name} disabled={c.status !== 'ACTIVE'}>
                  {c.name} ({c.engine.toLowerCase()}
                  {c.status !== 'ACTIVE' ? `, ${c.status.toLowerCase()}` : ''})
                </option>
              ))}
            </select>
          </Field>
          <Field label="Engine" errors={errors.engine}>
            <select {...edit('engine')}>
              <option value="">Server default</option>
              {['local', 'docker', 'kubernetes', 'ecs'].map((e) => (
                <option key={e} value={e}>
                  {e}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Node lifecycle" errors={errors.nodeLifecycle}>
            <select {...edit('nodeLifecycle')}>
              <option value="">Default (spot; on demand with GPUs)</option>
              <option value="SPOT">Spot</option>
              <option value="ONDEMAND">On demand</option>
            </select>
          </Field>
          <Field label="Deadline (seconds)" errors={errors.activeDeadlineSeconds}>
            <input inputMode="numeric" {...edit('activeDeadlineSeconds')} />
          </Field>
        </div>
        <Field label="Description" errors={errors.description}>
          <input {...edit('description')} />
        </Field>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={execution.fetching}>
            Run
          </button>
          <Link to={`/tasks/${encodeURIComponent(t.definitionId)}`}>Cancel</Link>
        </div>
      </form>
    </section>
  );
}
