import type { ClusterMetadata, ExtendedGroupProtocolSubscription, GroupPartitionsAssignments } from '@platformatic/kafka';

/**
 * Round-robin partition assignment that honours each member's own subscription.
 *
 * @platformatic/kafka's built-in round-robin assigner (2.12.1) spreads the *leader's* topics over
 * every member, whatever each subscribed to: with two Switchyard subscriptions in one group on
 * different topics, a member is handed partitions of a topic it does not consume (they are then
 * never read) and the other topic gets no owner. Here each topic's partitions go round-robin over
 * the members subscribed to it, in member-id order, so every member computes the same result.
 */
export function subscriptionAwareAssigner(
  _current: string,
  members: Map<string, ExtendedGroupProtocolSubscription>,
  _leaderTopics: Set<string>,
  metadata: ClusterMetadata,
): GroupPartitionsAssignments[] {
  const ids = [...members.keys()].sort();
  const result = new Map<string, GroupPartitionsAssignments>(ids.map((memberId) => [memberId, { memberId, assignments: new Map() }]));
  const topics = new Set<string>();
  for (const m of members.values()) for (const t of m.topics ?? []) topics.add(t);
  for (const topic of [...topics].sort()) {
    const subscribers = ids.filter((id) => members.get(id)!.topics?.includes(topic));
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    for (let partition = 0; partition < count; partition++) {
      const member = result.get(subscribers[partition % subscribers.length]!)!;
      let entry = member.assignments.get(topic);
      if (!entry) {
        entry = { topic, partitions: [] };
        member.assignments.set(topic, entry);
      }
      entry.partitions.push(partition);
    }
  }
  return [...result.values()];
}
