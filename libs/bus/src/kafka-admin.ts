// The Kafka bus's admin client (connected on first use): topics created with their partitions and
// retention (retention repaired on existing ones, pre-created topics accepted without Create), the
// start offsets of a new 'latest' group, partition counts, and deleting throwaway groups.
import kafkajs, { type Admin } from 'kafkajs';
import { JitError } from '@jit/errors';
import type { Logger } from '@jit/observability';
import type { TopicSpec } from './event-bus';
import { BusRejected, BusUnavailable, InvalidOptions } from './errors';
import { accessFailure, describe, hasKafkaType, isTransient, type Kafka, type KafkaReadiness } from './kafka-client';
import { authorizationFailure } from './kafka-security';
import { checkTopic } from './validate';

const { ConfigResourceTypes } = kafkajs;

export class KafkaAdmin {
  private readonly admin: Admin;
  private adminConnected: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly logger: Logger,
    private readonly readiness: KafkaReadiness,
    private readonly defaultPartitions: number,
  ) {
    this.admin = kafka.admin({ retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 } });
  }

  async withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    this.adminConnected ??= this.admin.connect().catch((err: unknown) => {
      this.adminConnected = undefined;
      throw err;
    });
    await this.adminConnected;
    return fn(this.admin);
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    if (!Array.isArray(topics)) throw InvalidOptions('ensureTopics takes an array of topic specs');
    const specs = topics.map((spec) => {
      checkTopic(spec?.topic);
      const partitions = spec.partitions ?? this.defaultPartitions;
      if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) {
        throw InvalidOptions(`partitions of ${spec.topic} must be an integer from 1 to 1000`);
      }
      const retentionMs = spec.retentionMs;
      if (retentionMs !== undefined && (!Number.isInteger(retentionMs) || retentionMs < -1)) {
        throw InvalidOptions(`retentionMs of ${spec.topic} must be -1 (unlimited) or a positive integer`);
      }
      return { topic: spec.topic, partitions, retentionMs };
    });
    // Retention is only set (and repaired) when asked for; otherwise the broker's default applies.
    const withRetention = specs.filter((s): s is typeof s & { retentionMs: number } => s.retentionMs !== undefined);
    try {
      await this.withAdmin(async (admin) => {
        const create = () =>
          admin.createTopics({
            waitForLeaders: true,
            topics: specs.map((s) => ({
              topic: s.topic,
              numPartitions: s.partitions,
              configEntries: s.retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(s.retentionMs) }],
            })),
          });
        // kafkajs waits out LEADER_NOT_AVAILABLE only; a broker that has not yet applied the new
        // topic's metadata answers UNKNOWN_TOPIC_OR_PARTITION (seen on a loaded machine). Creating
        // again is harmless (an existing topic is left alone), so try again for a while.
        for (let attempt = 1; ; attempt++) {
          try {
            await create();
            break;
          } catch (err) {
            // A locked-down cluster pre-creates the topics (deploy/kafka) and grants no Create: fine when they exist.
            if (authorizationFailure(err)) {
              await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) }).catch((missing: unknown) => {
                throw BusRejected(
                  `this client may not create topics and ${specs.map((s) => s.topic).join(', ')} do not all exist (${describe(missing)}): create them beforehand (deploy/kafka/topics.yaml) or grant Create on them`,
                  { cause: err },
                );
              });
              break;
            }
            if (attempt >= 20 || !hasKafkaType(err, 'UNKNOWN_TOPIC_OR_PARTITION')) throw err;
            await new Promise((r) => setTimeout(r, Math.min(1000, 100 * attempt)));
          }
        }
        if (withRetention.length === 0) return;
        // Topics that already existed keep their partitions, but retention is part of the contract.
        const describeRetention = () =>
          admin.describeConfigs({
            includeSynonyms: false,
            resources: withRetention.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.topic, configNames: ['retention.ms'] })),
          });
        // A topic created a moment ago may not be known to every part of the broker yet.
        let described: Awaited<ReturnType<typeof describeRetention>> | undefined;
        for (let attempt = 1; !described; attempt++) {
          try {
            described = await describeRetention();
          } catch (err) {
            if (attempt >= 15 || !hasKafkaType(err, 'UNKNOWN_TOPIC_OR_PARTITION')) throw err;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        const drift = withRetention.filter((s) => {
          const res = described.resources.find((r) => r.resourceName === s.topic);
          const value = res?.configEntries.find((c) => c.configName === 'retention.ms')?.configValue;
          return value !== String(s.retentionMs);
        });
        if (drift.length > 0) {
          this.logger.warn({ topics: drift.map((d) => d.topic) }, 'topic retention differs from the spec; altering it');
          await admin.alterConfigs({
            validateOnly: false,
            resources: drift.map((s) => ({
              type: ConfigResourceTypes.TOPIC,
              name: s.topic,
              configEntries: [{ name: 'retention.ms', value: String(s.retentionMs) }],
            })),
          });
        }
      });
      this.readiness.set(true);
    } catch (err) {
      if (err instanceof JitError) throw err;
      if (isTransient(err)) {
        this.readiness.set(false);
        throw BusUnavailable(`creating topics: ${describe(err)}`, { cause: err });
      }
      throw authorizationFailure(err) ? accessFailure(`ensuring topics ${specs.map((s) => s.topic).join(', ')}`, err) : BusRejected(`creating topics: ${describe(err)}`, { cause: err });
    }
  }

  /**
   * A new group starting at 'latest' gets the current ends committed before it joins, so
   * "latest" means "as of subscribe()" — not whenever the first fetch happens to run.
   */
  async pinLatest(groupId: string, topic: string): Promise<void> {
    try {
      await this.withAdmin(async (admin) => {
        const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
        const has = committed.some((t) => t.partitions.some((p) => p.offset !== '-1'));
        if (has) return;
        const ends = await admin.fetchTopicOffsets(topic);
        await admin.setOffsets({ groupId, topic, partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })) });
      });
    } catch (err) {
      // A live group already has its position; anything else is a real failure.
      if (/no running instances/i.test(String((err as Error).message))) return;
      throw accessFailure(`setting the start offsets of ${groupId}`, err);
    }
  }

  async partitionCount(topic: string): Promise<number | undefined> {
    try {
      const meta = await this.withAdmin((admin) => admin.fetchTopicMetadata({ topics: [topic] }));
      return meta.topics[0]?.partitions.length;
    } catch (err) {
      if (hasKafkaType(err, 'UNKNOWN_TOPIC_OR_PARTITION')) return undefined;
      throw accessFailure(`reading metadata of ${topic}`, err);
    }
  }

  deleteGroup(groupId: string): Promise<void> {
    return this.withAdmin((admin) => admin.deleteGroups([groupId])).then(() => undefined);
  }

  async disconnect(): Promise<void> {
    if (this.adminConnected) await this.admin.disconnect().catch(() => undefined);
  }
}
