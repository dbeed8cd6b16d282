import { useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { ClustersQuery, CreateClusterMutation, UpdateClusterMutation } from '../graphql/clusters.js';
import type { ResultOf } from '../graphql/graphql.js';
import { Empty, ErrorState, Loading } from '../components/States.js';
import { Field } from '../components/Field.js';
import { errorsByField, splitList } from '../lib/env.js';
import { formatTime } from '../lib/format.js';
import { useViewer } from '../components/AuthGate.js';

type Cluster = ResultOf<typeof ClustersQuery>['clusters'][number];
type Status = 'ACTIVE' | 'MAINTENANCE' | 'OFFLINE';

interface Draft {
  name: string;
  engine: string;
  status: Status;
  allowedTiers: string;
  capabilities: string;
  region: string;
  namespace: string;
}

const NEW: Draft = { name: '', engine: 'kubernetes', status: 'ACTIVE', allowedTiers: '', capabilities: '', region: '', namespace: '' };

function ClusterForm({ original, onDone }: { original?: Cluster; onDone: () => void }) {
  const [draft, setDraft] = useState<Draft>(
    original
      ? {
          name: original.name,
          engine: original.engine.toLowerCase(),
          status: original.status,
          allowedTiers: original.allowedTiers.join(', '),
          capabilities: original.capabilities.join(', '),
          region: original.region ?? '',
          namespace: original.namespace ?? '',
        }
      : NEW,
  );
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [formError, setFormError] = useState('');
  const [created, create] = useMutation(CreateClusterMutation);
  const [updated, update] = useMutation(UpdateClusterMutation);
  const edit = (k: keyof Draft) => ({ value: draft[k], onChange: (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value }) });

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const common = {
      engine: draft.engine,
      status: draft.status,
      allowedTiers: splitList(draft.allowedTiers),
      capabilities: splitList(draft.capabilities),
      region: draft.region || null,
      namespace: draft.namespace || null,
    };
    const res = original
      ? await update({ name: original.name, input: common }).then((r) => r.data?.updateCluster ?? r.error)
      : await create({ input: { ...common, name: draft.name.trim() } }).then((r) => r.data?.createCluster ?? r.error);
    if (!res || !('__typename' in res)) {
      setFormError(res?.message ?? 'The server did not answer.');
      return;
    }
    if (res.__typename === 'CreateClusterSuccess' || res.__typename === 'UpdateClusterSuccess') return onDone();
    if (res.__typename === 'ValidationError' && 'fields' in res) setErrors(errorsByField(res.fields));
    setFormError('message' in res ? res.message : 'Saving failed.');
  };

  return (
    <form className="form cluster-form" onSubmit={(e) => void onSubmit(e)} noValidate>
      <h2>{original ? `Edit ${original.name}` : 'New cluster'}</h2>
      {formError && (
        <div className="banner banner-error" role="alert">
          {formError}
        </div>
      )}
      {!original && (
        <Field label="Name" errors={errors.name}>
          <input {...edit('name')} autoFocus />
        </Field>
      )}
      <div className="row">
        <Field label="Engine" errors={errors.engine}>
          <select {...edit('engine')}>
            {['local', 'docker', 'kubernetes', 'ecs'].map((e) => (
              <option key={e}>{e}</option>
            ))}
          </select>
        </Field>
        <Field label="Status" errors={errors.status}>
          <select {...edit('status')}>
            <option value="ACTIVE">Active</option>
            <option value="MAINTENANCE">Maintenance</option>
            <option value="OFFLINE">Offline</option>
          </select>
        </Field>
      </div>
      <Field label="Allowed tiers" hint="Comma separated; empty allows any tier." errors={errors.allowedTiers}>
        <input {...edit('allowedTiers')} />
      </Field>
      <Field label="Capabilities" hint="Comma separated." errors={errors.capabilities}>
        <input {...edit('capabilities')} />
      </Field>
      <div className="row">
        <Field label="Region" errors={errors.region}>
          <input {...edit('region')} />
        </Field>
        <Field label="Namespace" errors={errors.namespace}>
          <input {...edit('namespace')} />
        </Field>
      </div>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={created.fetching || updated.fetching}>
          {original ? 'Save' : 'Create cluster'}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function ClustersPage() {
  const [result, reexecute] = useQuery({ query: ClustersQuery });
  const [editing, setEditing] = useState<Cluster | 'new' | undefined>();
  const viewer = useViewer();
  const done = () => {
    setEditing(undefined);
    reexecute({ requestPolicy: 'network-only' });
  };
  const list = result.data?.clusters;
  return (
    <section>
      <div className="page-head">
        <h1>Clusters</h1>
        {viewer.can('cluster.write') && (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            New cluster
          </button>
        )}
      </div>
      {editing && <ClusterForm key={editing === 'new' ? 'new' : editing.name} original={editing === 'new' ? undefined : editing} onDone={done} />}
      {result.error && !list ? (
        <ErrorState error={result.error} retry={() => reexecute({ requestPolicy: 'network-only' })} />
      ) : !list ? (
        <Loading what="clusters" />
      ) : list.length === 0 ? (
        <Empty>No clusters. Runs go to the default cluster of the server's engine.</Empty>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Engine</th>
              <th>Status</th>
              <th>Allowed tiers</th>
              <th>Capabilities</th>
              <th>Region / namespace</th>
              <th>Updated</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((c) => (
              <tr key={c.name}>
                <td>
                  {c.name}{' '}
                  {!c.registered && (
                    <span className="tag" title="Provided by the engine configuration">
                      engine
                    </span>
                  )}
                </td>
                <td>{c.engine.toLowerCase()}</td>
                <td>
                  <span className={`badge badge-${c.status === 'ACTIVE' ? 'success' : 'waiting'}`}>{c.status}</span>
                </td>
                <td>{c.allowedTiers.length ? c.allowedTiers.join(', ') : 'any'}</td>
                <td>{c.capabilities.join(', ') || '—'}</td>
                <td>{[c.region, c.namespace].filter(Boolean).join(' / ') || '—'}</td>
                <td>{formatTime(c.updatedAt)}</td>
                <td>
                  {viewer.can('cluster.write') && (
                    <button type="button" onClick={() => setEditing(c)}>
                      Edit
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
