// The little of express the adapter test uses (express ships no types; @types/express is not worth a dependency).
declare module 'express' {
  import type { IncomingMessage, Server, ServerResponse } from 'node:http';

  type Res = ServerResponse & { send(body: string): void };
  type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
  interface App {
    use(handler: Middleware): void;
    get(path: string, handler: (req: IncomingMessage, res: Res) => void): void;
    listen(port: number, host: string): Server;
  }
  interface Express {
    (): App;
    json(): Middleware;
  }
  const express: Express;
  export default express;
}
