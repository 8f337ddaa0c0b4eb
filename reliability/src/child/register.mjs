// `node --import tsx --import <this file> worker.ts`: see hooks.mjs.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
