import { useEffect, useState } from 'react';
import { NavLink, Outlet } from 'react-router';
import { ConnectionBanner } from './ConnectionBanner.js';

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
