// The WebSocket's state, for the lost-connection banner and for views that resume a stream.
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting';

type Listener = (state: ConnectionState) => void;

export function createConnectionState() {
  let state: ConnectionState = 'connecting';
  let everConnected = false;
  const listeners = new Set<Listener>();
  return {
    get: () => state,
    /** True once a connection was made; a first failure is not a "lost" connection yet. */
    everConnected: () => everConnected,
    set(next: ConnectionState) {
      if (next === 'connected') everConnected = true;
      if (next === state) return;
      state = next;
      for (const l of listeners) l(state);
    },
    subscribe(listener: Listener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export const connection = createConnectionState();
