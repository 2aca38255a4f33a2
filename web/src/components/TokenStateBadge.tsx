// A token's state as the server reports it (active, expired, revoked), as a labelled badge.
import type { TokenState } from '../api';
import { STATE_LABEL } from '../tokens';

export function TokenStateBadge({ state }: { state: TokenState }) {
  return (
    <span className={`badge state-${state}`} data-testid="token-state">
      {STATE_LABEL[state] ?? state}
    </span>
  );
}
