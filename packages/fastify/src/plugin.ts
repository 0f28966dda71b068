/**
 * The Fastify plugin: decorates `request.session` and runs each request's SessionLifecycle from
 * Fastify's hooks (onRequest loads, onSend saves and sends the cookie).
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { SessionLifecycle } from './lifecycle';
import { type FastifyLiveSessionOptions, resolveOptions } from './options';
import { STATE } from './session';

const plugin: FastifyPluginAsync<FastifyLiveSessionOptions> = async (fastify, options) => {
  const resolved = resolveOptions(options);
  const lifecycle = new SessionLifecycle(resolved);

  // Null until onRequest (and on routes outside the cookie's path), as the type says after destroy().
  fastify.decorateRequest('session', null as never);
  fastify.decorateRequest('sessionID', '');
  fastify.decorateRequest(STATE, null);
  fastify.addHook('onRequest', async (request) => {
    await lifecycle.begin(request);
  });
  fastify.addHook('onSend', async (request, reply, payload) => {
    await lifecycle.commit(request, reply);
    return payload;
  });
};

/**
 * `app.register(fastifyLiveSession, { store, secret })`: `request.session` on every route, with
 * express-session's API and cookie, kept in a LiveSessionStore.
 */
export const fastifyLiveSession = fp(plugin, { fastify: '5.x', name: '@live-session/fastify' });
