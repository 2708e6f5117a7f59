// Loads the dashboard's WebAssembly; its `main` mounts the app on <body>.
import init from "./web.js";

init();
