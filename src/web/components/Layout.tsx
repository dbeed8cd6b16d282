import { useEffect, useState } from 'react';
import { NavLink, Outlet } from 'react-router';
import { ConnectionBanner } from './ConnectionBanner.js';
import { useViewer } from './AuthGate.js';
import { signOut } from '../lib/auth.js';

type Theme = 'light' | 'dark' | 'system';

function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => {
    const saved = localStorage.getItem('flotilla.theme');
    return saved === 'light' || saved === 'dark' ? saved : 'system';
  });
  useEffect(() => {
    if (theme === 'system') {
      delete document.documentElement.dataset.theme;
      localStorage.removeItem('flotilla.theme');
    } else {
      document.documentElement.dataset.theme = theme;
      localStorage.setItem('flotilla.theme', theme);
    }
  }, [theme]);
  return [theme, setTheme];
}

export function Layout() {
  const [theme, setTheme] = useTheme();
  const viewer = useViewer();
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/tasks" className="brand">
          Flotilla
        </NavLink>
        <nav aria-label="Main">
          <NavLink to="/tasks">Tasks</NavLink>
          <NavLink to="/templates">Templates</NavLink>
          <NavLink to="/runs">Runs</NavLink>
          <NavLink to="/clusters">Clusters</NavLink>
        </nav>
        <span className="spacer" />
        {viewer.ownerId && (
          <span className="signed-in" title={`Role: ${viewer.role}`}>
            {viewer.ownerId} <small>({viewer.role})</small>
            {viewer.authMode === 'token' || viewer.authMode === 'oidc' ? (
              <button type="button" className="link" onClick={signOut}>
                Sign out
              </button>
            ) : null}
          </span>
        )}
        <label className="theme-picker">
          <span className="visually-hidden">Theme</span>
          <select value={theme} onChange={(e) => setTheme(e.target.value as Theme)} aria-label="Theme">
            <option value="system">System theme</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
      </header>
      <ConnectionBanner />
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
