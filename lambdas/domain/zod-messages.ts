import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/*
 * The Lambdas use zod/mini: its schemas are plain data with functions beside them, not objects
 * carrying dozens of methods each, so building them at a cold start costs a fraction of classic
 * zod's and a bundle carries ~30 KB of zod instead of ~95 KB. zod/mini loads no messages of its
 * own; the English ones classic zod loads are set here, since a 400 quotes them and a record or
 * message that fails its schema is logged with them. Imported for this effect by the modules
 * whose parse errors reach a response or a log line.
 */
z.config(en());
