import { describeBallastModule } from './suites/module.suite';

describeBallastModule(11);
