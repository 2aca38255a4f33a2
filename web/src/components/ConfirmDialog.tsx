// A confirmation dialog for a destructive change: runs it on confirmation and shows the
// server's refusal inside the dialog, as the server words it.
import { useState, type ReactNode } from 'react';
import { Dialog } from './Dialog';
import { messageOf } from './States';

export function ConfirmDialog({
  title,
  action,
  run,
  onCancel,
  onDone,
  children,
}: {
  title: string;
  action: string;
  run: () => Promise<unknown>;
  onCancel: () => void;
  onDone: () => void;
  children: ReactNode;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const confirm = async () => {
    setBusy(true);
    setError('');
    try {
      await run();
      onDone();
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };
  return (
    <Dialog title={title} onClose={onCancel}>
      {children}
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={onCancel}>
          Keep
        </button>
        <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void confirm()}>
          {action}
        </button>
      </div>
    </Dialog>
  );
}
