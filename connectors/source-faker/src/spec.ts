import type { ConnectorSpecification } from '@sluice/protocol';

// The spec and stream schemas of Airbyte's source-faker (reference/source-faker), so catalogs
// and data shapes match those of Airbyte's published benchmarks.

export const spec: ConnectorSpecification = {
  documentationUrl: 'https://docs.airbyte.com/integrations/sources/faker',
  connectionSpecification: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Faker Source Spec',
    type: 'object',
    required: ['count'],
    additionalProperties: true,
    properties: {
      count: {
        title: 'Count',
        description:
          'How many users should be generated in total.  This setting does not apply to the purchases or products stream.',
        type: 'integer',
        minimum: 1,
        default: 1000,
        order: 0,
      },
      seed: {
        title: 'Seed',
        description:
          'Manually control the faker random seed to return the same values on subsequent runs (leave -1 for random)',
        type: 'integer',
        default: -1,
        order: 1,
      },
      records_per_slice: {
        title: 'Records Per Stream Slice',
        description:
          'How many fake records will be in each page (stream slice), before a state message is emitted?',
        type: 'integer',
        minimum: 1,
        default: 1000,
        order: 2,
      },
      always_updated: {
        title: 'Always Updated',
        description:
          'Should the updated_at values for every record be new each sync?  Setting this to false will case the source to stop emitting records after COUNT records have been emitted.',
        type: 'boolean',
        default: true,
      },
      parallelism: {
        title: 'Parallelism',
        description:
          'How many parallel workers should we use to generate fake data?  Choose a value equal to the number of CPUs you will allocate to this source.',
        type: 'integer',
        minimum: 1,
        default: 4,
        order: 4,
      },
    },
  },
};

export const usersSchema: Record<string, unknown> = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: {
    id: {
      description: 'The unique identifier of the user.',
      type: 'integer',
    },
    created_at: {
      description: 'The date and time when the user was created.',
      type: 'string',
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    },
    updated_at: {
      description: 'The date and time when the user was last updated.',
      type: 'string',
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    },
    name: {
      description: 'The name of the user.',
      type: 'string',
    },
    title: {
      description: 'The title of the user.',
      type: 'string',
    },
    age: {
      description: 'The age of the user.',
      type: 'integer',
    },
    email: {
      description: 'The email address of the user.',
      type: 'string',
    },
    telephone: {
      description: 'The telephone number of the user.',
      type: 'string',
    },
    gender: {
      description: 'The gender of the user.',
      type: 'string',
    },
    language: {
      description: 'The language spoken by the user.',
      type: 'string',
    },
    academic_degree: {
      description: 'The academic degree held by the user.',
      type: 'string',
    },
    nationality: {
      description: 'The nationality of the user.',
      type: 'string',
    },
    occupation: {
      description: 'The occupation of the user.',
      type: 'string',
    },
    height: {
      description: 'The height of the user.',
      type: 'string',
    },
    blood_type: {
      description: 'The blood type of the user.',
      type: 'string',
    },
    weight: {
      description: 'The weight of the user.',
      type: 'integer',
    },
    address: {
      type: 'object',
      properties: {
        street_number: {
          description: "The street number of the user's address.",
          type: 'string',
        },
        street_name: {
          description: "The name of the street of the user's address.",
          type: 'string',
        },
        city: {
          description: 'The city of residence of the user.',
          type: 'string',
        },
        state: {
          description: "The state of the user's location.",
          type: 'string',
        },
        province: {
          description: "The province of the user's location.",
          type: 'string',
        },
        postal_code: {
          description: "The postal code of the user's address.",
          type: 'string',
        },
        country_code: {
          description: "The country code of the user's location.",
          type: 'string',
        },
      },
    },
  },
};

export const productsSchema: Record<string, unknown> = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: {
    id: {
      type: 'integer',
    },
    make: {
      type: 'string',
    },
    model: {
      type: 'string',
    },
    year: {
      type: 'integer',
    },
    price: {
      type: 'number',
    },
    description: {
      type: 'string',
    },
    created_at: {
      type: 'string',
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    },
    updated_at: {
      type: 'string',
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    },
  },
};

export const purchasesSchema: Record<string, unknown> = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: {
    id: {
      description: 'Unique identifier for the purchase record.',
      type: 'integer',
    },
    user_id: {
      description: 'Unique identifier for the user making the purchase.',
      type: 'integer',
    },
    product_id: {
      description: 'Unique identifier for the product being purchased.',
      type: 'integer',
    },
    created_at: {
      description: 'The date and time when the purchase record was created.',
      type: 'string',
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    },
    updated_at: {
      description: 'The date and time when the purchase record was last updated.',
      type: 'string',
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    },
    added_to_cart_at: {
      description: 'The date and time the product was added to the cart by the user.',
      type: ['null', 'string'],
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    },
    purchased_at: {
      description: 'The date and time the purchase was completed.',
      type: ['null', 'string'],
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    },
    returned_at: {
      description: 'The date and time the purchased product was returned by the user.',
      type: ['null', 'string'],
      format: 'date-time',
      airbyte_type: 'timestamp_with_timezone',
    },
  },
};
