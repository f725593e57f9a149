import { render } from "preact";
import "./styles.css";
import { App } from "./app.tsx";
import { loadSession } from "./lib/session.ts";

void loadSession();
render(<App />, document.getElementById("app")!);
