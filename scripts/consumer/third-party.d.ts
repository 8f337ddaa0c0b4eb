// ioredis's own declarations import 'redis-errors', which ships no types: with `skipLibCheck: false` every
// project that installs ioredis (5.x and 6.x alike) needs this line, Ballast or not. Nothing of ours is shimmed.
declare module 'redis-errors';
