-- The kvmfleet store as created by commit d997de1 (schema_version 1, before alembic):
-- models.Base.metadata.create_all() on postgresql, captured with a mock engine.
CREATE TABLE schema_version (
	version SERIAL NOT NULL,
	applied_at FLOAT NOT NULL,
	PRIMARY KEY (version)
);

CREATE TABLE hosts (
	name VARCHAR(255) NOT NULL,
	topology JSON NOT NULL,
	generation INTEGER NOT NULL,
	enabled BOOLEAN NOT NULL,
	disabled_reason TEXT,
	last_heartbeat FLOAT,
	PRIMARY KEY (name)
);

CREATE TABLE instances (
	uuid VARCHAR(36) NOT NULL,
	name VARCHAR(255) NOT NULL,
	request JSON NOT NULL,
	spec JSON,
	state VARCHAR(16) NOT NULL,
	task VARCHAR(16),
	host VARCHAR(255),
	reason TEXT,
	attempts JSON NOT NULL,
	alternates JSON NOT NULL,
	created_at FLOAT NOT NULL,
	updated_at FLOAT NOT NULL,
	PRIMARY KEY (uuid)
);

CREATE INDEX ix_instances_host ON instances (host);

CREATE INDEX ix_instances_name ON instances (name);

CREATE INDEX ix_instances_state ON instances (state);

CREATE TABLE allocations (
	instance_uuid VARCHAR(36) NOT NULL,
	host VARCHAR(255) NOT NULL,
	assignment JSON NOT NULL,
	claimed_at FLOAT NOT NULL,
	PRIMARY KEY (instance_uuid),
	FOREIGN KEY(instance_uuid) REFERENCES instances (uuid),
	FOREIGN KEY(host) REFERENCES hosts (name)
);

CREATE INDEX ix_allocations_host ON allocations (host);

CREATE TABLE allocated_resources (
	id SERIAL NOT NULL,
	host VARCHAR(255) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	key VARCHAR(64) NOT NULL,
	instance_uuid VARCHAR(36) NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uniq_resource_holder UNIQUE (host, kind, key),
	FOREIGN KEY(instance_uuid) REFERENCES allocations (instance_uuid)
);

CREATE INDEX ix_allocated_resources_instance_uuid ON allocated_resources (instance_uuid);
