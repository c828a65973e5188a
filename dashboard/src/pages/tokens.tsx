import { useState } from "preact/hooks";
import { api } from "../api";
import type { PageProps } from "../app";
import { Card, ErrorNote, formatTime, SecretOnce, StatusNote, useLoad } from "../ui";

interface TokenJson {
  id: string;
  kind: "master" | "secondary";
  preview: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
}

const SCOPES = ["publish", "read", "manage"];

export function TokensPage({ session }: PageProps) {
  const tokens = useLoad(() => api<{ tokens: TokenJson[] }>(session, "GET", "/v1/tokens?limit=500"), []);
  const [scopes, setScopes] = useState<string[]>(["publish"]);
  const [created, setCreated] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [note, setNote] = useState("");
  const create = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setNote("");
    try {
      const answer = await api<{ token: string }>(session, "POST", "/v1/tokens", { scopes });
      setCreated(answer.token);
      tokens.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const revoke = async (token: TokenJson) => {
    if (!confirm(`Revoke the token ${token.preview}? Clients using it stop working at once.`)) return;
    setError(undefined);
    try {
      await api(session, "DELETE", `/v1/tokens/${encodeURIComponent(token.id)}`);
      setNote(`Revoked ${token.preview}.`);
      tokens.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <div class="columns">
      <Card title="Tokens">
        <ErrorNote error={tokens.error} />
        <table>
          <thead>
            <tr>
              <th scope="col">Token</th>
              <th scope="col">Kind</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.value?.tokens.map((token) => (
              <tr key={token.id}>
                <td>
                  <code>{token.preview}</code>
                </td>
                <td>{token.kind}</td>
                <td>{token.scopes.join(", ")}</td>
                <td>
                  {formatTime(token.created_at)}
                  {token.expires_at && ` (until ${formatTime(token.expires_at)})`}
                </td>
                <td>
                  {token.kind === "secondary" && (
                    <button type="button" onClick={() => revoke(token)} aria-label={`Revoke ${token.preview}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {note && <StatusNote text={note} />}
      </Card>
      <Card title="Create a token">
        <form onSubmit={create}>
          <fieldset>
            <legend>Scopes</legend>
            {SCOPES.map((scope) => (
              <label key={scope}>
                <input
                  type="checkbox"
                  checked={scopes.includes(scope)}
                  onChange={(e) =>
                    setScopes(e.currentTarget.checked ? [...scopes, scope] : scopes.filter((s) => s !== scope))
                  }
                />{" "}
                {scope}
              </label>
            ))}
          </fieldset>
          <button type="submit">Create token</button>
          <ErrorNote error={error} />
        </form>
        {created && <SecretOnce label="API token" value={created} />}
      </Card>
    </div>
  );
}
