// The console's routes. Paths are the classic UI's, so kept links still open the right page.
import { Navigate, Route, Routes } from 'react-router';
import { Layout } from './components/Layout.js';
import { TasksPage } from './routes/TasksPage.js';
import { TaskPage } from './routes/TaskPage.js';
import { TaskFormPage } from './routes/TaskFormPage.js';
import { TaskExecutePage } from './routes/TaskExecutePage.js';
import { RunsPage } from './routes/RunsPage.js';
import { RunPage } from './routes/RunPage.js';
import { ClustersPage } from './routes/ClustersPage.js';
import { lazy, Suspense } from 'react';
import { Loading } from './components/States.js';

// The JSON Schema form library is large; only the Templates page loads it.
const TemplatesPage = lazy(() => import('./routes/TemplatesPage.js').then((m) => ({ default: m.TemplatesPage })));
const templates = (
  <Suspense fallback={<Loading what="templates" />}>
    <TemplatesPage />
  </Suspense>
);
import { NotFound } from './components/States.js';

export function App() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route index element={<Navigate to="/tasks" replace />} />
        <Route path="tasks" element={<TasksPage />} />
        <Route path="tasks/create" element={<TaskFormPage mode="create" />} />
        <Route path="tasks/:definitionId" element={<TaskPage />} />
        <Route path="tasks/:definitionId/execute" element={<TaskExecutePage />} />
        <Route path="tasks/:definitionId/update" element={<TaskFormPage mode="update" />} />
        <Route path="tasks/:definitionId/copy" element={<TaskFormPage mode="copy" />} />
        <Route path="runs" element={<RunsPage />} />
        <Route path="runs/:runId" element={<RunPage />} />
        <Route path="clusters" element={<ClustersPage />} />
        <Route path="templates" element={templates} />
        <Route path="templates/:templateId" element={templates} />
        <Route path="*" element={<NotFound what="page" />} />
      </Route>
    </Routes>
  );
}
