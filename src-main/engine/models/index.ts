export { MODELS, modelInfo, buildModel, type ModelInfo } from './zoo';
export { parameterCount, type Model, type ForwardResult, type BuildContext } from './model';
