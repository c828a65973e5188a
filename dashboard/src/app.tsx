import { useEffect, useState } from "preact/hooks";
import { type Session, sessionStore, signIn } from "./api";
import { CatalogPage } from "./pages/catalog";
import { DeliveriesPage } from "./pages/deliveries";
import { EndpointsPage } from "./pages/endpoints";
import { OverviewPage } from "./pages/overview";
import { SettingsPage } from "./pages/settings";
import { TokensPage } from "./pages/tokens";
import { ErrorNote } from "./ui";

export interface PageProps {
  session: Session;
  /** Opens another page (the delivery log after a test event, …). */
  go: (path: string) => void;
}

const PAGES = [
  { path: "overview", title: "Overview", Page: OverviewPage },
  { path: "settings", title: "Webhook settings", Page: SettingsPage },
  { path: "endpoints", title: "Endpoints", Page: EndpointsPage },
  { path: "deliveries", title: "Delivery log", Page: DeliveriesPage },
  { path: "catalog", title: "Event catalog", Page: CatalogPage },
  { path: "tokens", title: "API tokens", Page: TokensPage },
] as const;

const BASE = "/dashboard/";
const currentPath = () => {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "";
  return PAGES.some((page) => page.path === path) ? path : "overview";
};

function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onSignedIn(await signIn(token.trim()));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Herald</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label for="token">App master token or admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <p class="hint">Kept in this tab only (session storage), never in a URL.</p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorNote error={error} />
      </form>
    </main>
  );
}

export function App() {
  const [session, setSession] = useState<Session | undefined>(sessionStore.load());
  const [path, setPath] = useState(currentPath());

  useEffect(() => {
    const onPop = () => setPath(currentPath());
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  useEffect(() => {
    const page = PAGES.find((p) => p.path === path);
    document.title = `${page?.title ?? "Herald"} · Herald`;
    // Move focus to the page's heading so a screen reader announces the new page.
    document.getElementById("page-title")?.focus();
  }, [path, session?.appId]);

  const go = (next: string) => {
    history.pushState(null, "", `${BASE}${next}`);
    setPath(next);
  };
  const update = (next: Session | undefined) => {
    if (next) sessionStore.save(next);
    else sessionStore.clear();
    setSession(next);
  };

  if (!session) return <SignIn onSignedIn={update} />;
  const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
  const { Page } = page;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">Herald</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a
                  href={`${BASE}${p.path}`}
                  aria-current={p.path === page.path ? "page" : undefined}
                  onClick={(event) => {
                    if (event.ctrlKey || event.metaKey || event.shiftKey) return;
                    event.preventDefault();
                    go(p.path);
                  }}
                >
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {session.admin ? (
            <label>
              App{" "}
              <select
                aria-label="App"
                value={session.appId}
                onChange={(e) => {
                  const app = session.apps.find((a) => a.id === e.currentTarget.value);
                  if (app) update({ ...session, appId: app.id, appName: app.name });
                }}
              >
                {session.apps.map((app) => (
                  <option key={app.id} value={app.id}>
                    {app.name} ({app.id.slice(0, 8)})
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <span>App {session.appName}</span>
          )}
          <button type="button" class="link" onClick={() => update(undefined)}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <h1 id="page-title" tabIndex={-1}>
          {page.title}
        </h1>
        {session.appId === "" ? (
          <p role="alert">This deployment has no app yet: create one with `herald app create --name NAME`.</p>
        ) : (
          <Page key={`${page.path}-${session.appId}`} session={session} go={go} />
        )}
      </main>
    </div>
  );
}
