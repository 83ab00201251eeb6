export { TablestoreWireStore, type TablestoreWireStoreOptions } from './store';
