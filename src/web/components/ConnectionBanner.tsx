import { useSyncExternalStore } from 'react';
import { connection } from '../lib/connectionState.js';

export function useConnectionState() {
  return useSyncExternalStore(connection.subscribe, connection.get);
}

/** Shown while the live connection is down; live views resume by themselves when it is back. */
export function ConnectionBanner() {
  const state = useConnectionState();
  if (state !== 'reconnecting' || !connection.everConnected()) return null;
  return (
    <div className="banner banner-warning" role="status" aria-live="polite">
      Connection to the server lost. Reconnecting… Live updates resume when it is back.
    </div>
  );
}
