// OpenTelemetry messaging semantic conventions: the attribute names Switchyard's spans carry.
// Written out here (the stable names) rather than importing @opentelemetry/semantic-conventions.

export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
/** The pattern a destination matched (`tenant.*.orders`): the low-cardinality name spans are named after. */
export const ATTR_MESSAGING_DESTINATION_TEMPLATE = 'messaging.destination.template';
export const ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME = 'messaging.destination.subscription.name';
export const ATTR_MESSAGING_DESTINATION_PARTITION_ID = 'messaging.destination.partition.id';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
export const ATTR_ERROR_TYPE = 'error.type';
/** Switchyard's own: the router handler's name and the delivery attempt. */
export const ATTR_SWITCHYARD_HANDLER = 'switchyard.handler';
export const ATTR_SWITCHYARD_ATTEMPT = 'switchyard.attempt';

/** `messaging.system` for a transport name: the broker's own name, `switchyard.<name>` for ours. */
export function messagingSystem(transport: string): string {
  return transport === 'kafka' || transport === 'rabbitmq' || transport === 'nats' ? transport : `switchyard.${transport}`;
}
