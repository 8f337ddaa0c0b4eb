// Ballast's decorators in a NestJS 11 HTTP app: the suite is shared with the other supported major.
import 'reflect-metadata';
import { createRequire } from 'node:module';
import * as common from '@nestjs/common';
import * as core from '@nestjs/core';
import * as express from '@nestjs/platform-express';
import * as fastify from '@nestjs/platform-fastify';
import * as rxjs from 'rxjs';
import { nestDecoratorSuite } from '../../nest-shared/suite';

// This package's own @nestjs/core, the one passed to the suite.
const require = createRequire(import.meta.url);
const { version } = require('@nestjs/core/package.json') as { version: string };
if (require('@nestjs/core').NestFactory !== core.NestFactory) throw new Error('@nestjs/core resolved twice');

nestDecoratorSuite({ common, core, express, fastify, rxjs }, 11, version);
