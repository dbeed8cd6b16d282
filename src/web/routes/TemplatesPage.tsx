// Templates: the newest version of each, the chosen one's JSON Schema as a form (@rjsf/core,
// defaults filled in), a dry run that shows the rendered command and resources, and a run.
import { useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { useMutation, useQuery } from 'urql';
import Form from '@rjsf/core';
import validator from '@rjsf/validator-ajv8';
import type { RJSFSchema } from '@rjsf/utils';
import { ExecuteTemplateMutation, TemplatesQuery } from '../graphql/templates.js';
import type { ResultOf } from '../graphql/graphql.js';
import { Empty, ErrorState, Loading } from '../components/States.js';
import { newIdempotenceKey, rememberOwner, rememberedOwner } from '../lib/owner.js';

type Template = ResultOf<typeof TemplatesQuery>['templates']['edges'][number]['node'];
type Outcome = { kind: 'dry'; command: string | null; resources: string | null } | { kind: 'error'; message: string; fields: string[] };

function TemplateRunner({ template }: { template: Template }) {
  const navigate = useNavigate();
  const [payload, setPayload] = useState<Record<string, unknown>>((template.defaults as Record<string, unknown>) ?? {});
  const [owner, setOwner] = useState(rememberedOwner());
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [state, execute] = useMutation(ExecuteTemplateMutation);

  const send = async (dryRun: boolean) => {
    if (!owner.trim()) {
      setOutcome({ kind: 'error', message: 'Owner is required: who is running it.', fields: [] });
      return;
    }
    rememberOwner(owner.trim());
    const res = await execute({
      templateId: template.templateId,
      payload,
      dryRun,
      input: { owner: owner.trim(), idempotenceKey: dryRun ? null : newIdempotenceKey() },
    });
    const out = res.data?.executeTemplate;
    if (out?.__typename === 'ExecuteTemplateSuccess') {
      if (dryRun) setOutcome({ kind: 'dry', command: out.run.command, resources: out.run.resourceReason });
      else void navigate(`/runs/${encodeURIComponent(out.run.runId)}`);
      return;
    }
    const fields = out?.__typename === 'TemplatePayloadError' ? out.fields.map((f) => f.message) : [];
    setOutcome({
      kind: 'error',
      message: out && 'message' in out ? out.message : (res.error?.message.replace(/^\[GraphQL\] /, '') ?? 'The server did not answer.'),
      fields,
    });
  };

  return (
    <div className="template-runner">
      <h2>
        {template.templateName} <small>v{template.version}</small>
      </h2>
      <p className="muted">
        <code>{template.commandTemplate}</code> on <code>{template.image}</code>, {template.memory} MB, cpu {template.cpu}
      </p>
      <label className="field">
        <span>Owner</span>
        <input name="owner" value={owner} onChange={(e) => setOwner(e.target.value)} />
      </label>
      <Form
        schema={template.schema as RJSFSchema}
        formData={payload}
        validator={validator}
        onChange={(e) => setPayload((e.formData as Record<string, unknown>) ?? {})}
        onSubmit={() => void send(false)}
        showErrorList={false}
      >
        <div className="actions">
          <button type="button" disabled={state.fetching} onClick={() => void send(true)}>
            Dry run
          </button>
          <button type="submit" className="primary" disabled={state.fetching}>
            Run
          </button>
        </div>
      </Form>
      {outcome?.kind === 'dry' && (
        <div className="dry-run" role="status">
          <p>Command:</p>
          <pre>{outcome.command ?? '(the image entrypoint)'}</pre>
          {outcome.resources && <p className="muted">{outcome.resources}</p>}
        </div>
      )}
      {outcome?.kind === 'error' && (
        <div className="form-error" role="alert">
          <p>{outcome.message}</p>
          {outcome.fields.length > 1 && (
            <ul>
              {outcome.fields.map((f) => (
                <li key={f}>{f}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

export function TemplatesPage() {
  const { templateId } = useParams();
  const [result, refetch] = useQuery({ query: TemplatesQuery, variables: { latestOnly: true, first: 500 } });
  const templates = useMemo(() => result.data?.templates.edges.map((e) => e.node) ?? [], [result.data]);
  if (result.fetching && !result.data) return <Loading what="templates" />;
  if (result.error) return <ErrorState error={result.error} retry={() => refetch({ requestPolicy: 'network-only' })} />;
  const chosen = templates.find((t) => t.templateId === templateId);
  return (
    <section>
      <h1>Templates</h1>
      {templates.length === 0 ? (
        <Empty>No templates yet: create one with POST /api/v7/template or the createTemplate mutation.</Empty>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Version</th>
              <th>Image</th>
              <th>Command</th>
            </tr>
          </thead>
          <tbody>
            {templates.map((t) => (
              <tr key={t.templateId} className={t.templateId === templateId ? 'selected' : undefined}>
                <td>
                  <Link to={`/templates/${encodeURIComponent(t.templateId)}`}>{t.templateName}</Link>
                </td>
                <td>{t.version}</td>
                <td>{t.image}</td>
                <td>
                  <code>{t.commandTemplate}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {chosen && <TemplateRunner key={chosen.templateId} template={chosen} />}
    </section>
  );
}
